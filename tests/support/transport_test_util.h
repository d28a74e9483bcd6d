// Helpers shared by the transport tests (shm, UCX): drive transports until
// completions finish, and fill buffers with a cheap position-dependent pattern.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/bootstrap/thread_bootstrap.h"
#include "runtime/transport/transport.h"

namespace strata::runtime::testing {

using Transports = std::vector<std::unique_ptr<Transport>>;

// One transport per rank, made collectively on threads of this process by
// `create(bootstrap, rank)`; the first rank's failure is rethrown.
template <typename Create>
Transports make_world(int nranks, Create create) {
  ThreadBootstrapGroup group(nranks, 20.0);
  Transports transports(nranks);
  std::vector<std::exception_ptr> errors(nranks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < nranks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        transports[rank] = create(*group.join(rank), rank);
      } catch (...) {
        errors[rank] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (auto& error : errors)
    if (error) std::rethrow_exception(error);
  return transports;
}

inline bool pending(const Completion& done) {
  return done.state.load(std::memory_order_acquire) == Completion::kPending;
}

// Progresses every transport until none of `completions` is pending; false on timeout.
inline bool drive(const Transports& transports, const std::vector<Completion*>& completions,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool any_pending = false;
    for (Completion* done : completions) any_pending |= pending(*done);
    if (!any_pending) return true;
    for (auto& transport : transports) transport->progress();
  }
  return false;
}

// Drives one transport with the executor's loop: progress, else sleep in wait_for_activity.
inline bool drive_one(Transport& transport, const std::vector<Completion*>& completions,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool any_pending = false;
    for (Completion* done : completions) any_pending |= pending(*done);
    if (!any_pending) return true;
    if (!transport.progress()) transport.wait_for_activity(std::chrono::milliseconds(100));
  }
  return false;
}

// Bytes that differ with position and seed, 8 at a time (tests fill and
// compare hundreds of MiB, so this must not be the slow part).
inline std::vector<std::byte> pattern(size_t bytes, int seed) {
  std::vector<std::byte> data(bytes);
  const uint64_t base = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(seed + 1);
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t word = base + i * 0xff51afd7ed558ccdull;
    word ^= word >> 29;
    std::memcpy(data.data() + i, &word, 8);
  }
  for (; i < bytes; ++i) data[i] = static_cast<std::byte>((base >> (i & 7)) + i);
  return data;
}

// Sends `bytes` to the right neighbour and checks what came from the left,
// tagging messages with the sender as the executor does. Returns the number
// of problems this rank saw (printed to stderr).
inline int ring_exchange(Transport& transport, size_t bytes, int round) {
  const int rank = transport.rank(), size = transport.size();
  const int right = (rank + 1) % size, left = (rank + size - 1) % size;
  auto out = pattern(bytes, rank * 1000 + round);
  std::vector<std::byte> in(bytes);
  Completion send, recv;
  transport.post_recv(left, (uint64_t(left) << 32) | round, in.data(), bytes, &recv);
  transport.post_send(right, (uint64_t(rank) << 32) | round, out.data(), bytes, &send);
  if (!drive_one(transport, {&send, &recv}, std::chrono::seconds(60))) {
    std::fprintf(stderr, "rank %d: %zu bytes: timed out\n", rank, bytes);
    return 1;
  }
  int problems = 0;
  for (Completion* done : {&send, &recv}) {
    if (done->state.load() != Completion::kDone) {
      std::fprintf(stderr, "rank %d: %zu bytes: %s\n", rank, bytes, done->error.c_str());
      ++problems;
    }
  }
  if (recv.received_bytes != bytes || in != pattern(bytes, left * 1000 + round)) {
    std::fprintf(stderr, "rank %d: %zu bytes from rank %d: wrong data\n", rank, bytes, left);
    ++problems;
  }
  return problems;
}

}  // namespace strata::runtime::testing
