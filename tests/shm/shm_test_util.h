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
  return make_world(nranks, [&](Bootstrap& bootstrap, int) {
    return create_shm_transport(bootstrap, all_ranks(nranks), options);
  });
}

// Shared-memory tests run with CMA single copies and with rings only.
inline ShmTransportOptions cma_options(bool use_cma) {
  ShmTransportOptions options;
  options.use_cma = use_cma;
  options.timeout_s = 10;
  return options;
}
template <typename ParamInfo>  // ::testing::TestParamInfo<bool>
std::string cma_param_name(const ParamInfo& info) {
  return info.param ? "cma" : "ring";
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
