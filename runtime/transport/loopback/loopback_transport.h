// The in-process transport: endpoints are ranks living in one process
// (ncclCommInitAll, tests). A send and a receive meet in a shared table and
// the second to arrive copies the bytes, so no progress thread is needed.
#pragma once

#include <memory>
#include <vector>

#include "runtime/transport/transport.h"

namespace strata::runtime {

// Creates `nranks` connected endpoints; endpoint i has rank i.
std::vector<std::unique_ptr<Transport>> create_loopback_transports(int nranks);

}  // namespace strata::runtime
