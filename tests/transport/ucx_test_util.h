// Helpers for UCX transport tests: a world of transports (one per rank,
// created collectively on threads) and loops that drive them to completion.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/bootstrap/thread_bootstrap.h"
#include "runtime/transport/ucx/ucx_transport.h"

namespace strata::runtime::testing {

using Transports = std::vector<std::unique_ptr<Transport>>;

// Destroys every transport on its own thread, as ranks of a job do: closing
// an endpoint flushes it, which over tcp needs the peer's worker to progress.
inline void destroy_concurrently(Transports& transports) {
  std::vector<std::thread> threads;
  for (auto& transport : transports) threads.emplace_back([&transport] { transport.reset(); });
  for (auto& thread : threads) thread.join();
}

// One transport per rank, all in this process.
class World {
 public:
  explicit World(Transports transports) : transports_(std::move(transports)) {}
  World(World&&) = default;
  ~World() { destroy_concurrently(transports_); }
  std::unique_ptr<Transport>& operator[](size_t rank) { return transports_[rank]; }
  const Transports& all() const { return transports_; }
  operator const Transports&() const { return transports_; }

 private:
  Transports transports_;
};

inline World make_ucx_world(int nranks, const UcxTransportOptions& options) {
  ThreadBootstrapGroup group(nranks, 20.0);
  Transports transports(nranks);
  std::vector<std::exception_ptr> errors(nranks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < nranks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        transports[rank] = create_ucx_transport(*group.join(rank), options);
      } catch (...) {
        errors[rank] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return World(std::move(transports));
}

inline bool pending(const Completion& done) { return done.state.load(std::memory_order_acquire) == Completion::kPending; }

// Progresses every transport until none of `completions` is pending; false on timeout.
inline bool drive(const Transports& transports, const std::vector<Completion*>& completions,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
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
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool any_pending = false;
    for (Completion* done : completions) any_pending |= pending(*done);
    if (!any_pending) return true;
    if (!transport.progress()) transport.wait_for_activity(std::chrono::milliseconds(100));
  }
  return false;
}

inline std::vector<std::byte> pattern(size_t bytes, int seed) {
  std::vector<std::byte> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<std::byte>((i * 131 + seed * 17 + (i >> 12)) & 0xff);
  return data;
}

}  // namespace strata::runtime::testing
