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
#include "tests/support/transport_test_util.h"

namespace strata::runtime::testing {


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
