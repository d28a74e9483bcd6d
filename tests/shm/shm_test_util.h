// Helpers for shared-memory transport tests: a world of transports (one per
// rank, created collectively on threads of this process), loops that drive
// them to completion, and checks on /dev/shm.
#pragma once

#include <dirent.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/bootstrap/thread_bootstrap.h"
#include "runtime/transport/shm/shm_transport.h"

namespace strata::runtime::testing {

using Transports = std::vector<std::unique_ptr<Transport>>;

inline std::vector<int> all_ranks(int nranks) {
  std::vector<int> ranks(nranks);
  for (int rank = 0; rank < nranks; ++rank) ranks[rank] = rank;
  return ranks;
}

inline Transports make_shm_world(int nranks, const ShmTransportOptions& options = {}) {
  ThreadBootstrapGroup group(nranks, 20.0);
  Transports transports(nranks);
  std::vector<std::exception_ptr> errors(nranks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < nranks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        transports[rank] = create_shm_transport(*group.join(rank), all_ranks(nranks), options);
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

// Names in /dev/shm that this transport creates ("strata-shm-<pid>-...")
// for process `pid`.
inline std::vector<std::string> shm_entries_of(int pid) {
  std::vector<std::string> names;
  const std::string prefix = "strata-shm-" + std::to_string(pid) + "-";
  if (DIR* dir = opendir("/dev/shm")) {
    while (dirent* entry = readdir(dir))
      if (std::string(entry->d_name).rfind(prefix, 0) == 0) names.emplace_back(entry->d_name);
    closedir(dir);
  }
  return names;
}

}  // namespace strata::runtime::testing
