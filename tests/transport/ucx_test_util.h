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
#include "tests/support/transport_test_util.h"

namespace strata::runtime::testing {


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
  return World(make_world(nranks, [&](Bootstrap& bootstrap, int) { return create_ucx_transport(bootstrap, options); }));
}

}  // namespace strata::runtime::testing
