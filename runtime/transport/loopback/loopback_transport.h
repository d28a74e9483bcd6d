// The in-process transport: endpoints are ranks living in one process
// (ncclCommInitAll, tests). A send and a receive meet in a shared table and
// the second to arrive copies the bytes, so no progress thread is needed.
// A view receive (post_recv_view) copies nothing: it reads the sender's
// buffer, and the send ends when the receiver releases the view.
#pragma once

#include <memory>
#include <vector>

#include "runtime/transport/transport.h"

namespace strata::runtime {

// Creates `nranks` connected endpoints; endpoint i has rank i. With
// `views` false, view receives land in their staging buffer like any other
// receive (tests use it to run the executor's staging path).
std::vector<std::unique_ptr<Transport>> create_loopback_transports(int nranks, bool views = true);

}  // namespace strata::runtime
