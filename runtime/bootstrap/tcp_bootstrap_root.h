// The root side of the TCP bootstrap: a detached thread per unique id that
// gathers every round's contributions and answers each rank with all of them.
#pragma once

#include <cstdint>

#include "runtime/bootstrap/join_auth.h"
#include "runtime/bootstrap/socket_io.h"

namespace strata::runtime {

// Starts the service thread, which owns `listener` and closes every socket it
// holds when it ends: once all ranks have disconnected, or after an error
// (a round not complete within `timeout_s`, an invalid rank) has been sent to
// the ranks that reached it. Only connections that prove they know `secret`
// (join_auth.h) and present `session_key` count as ranks; the rest are
// logged once per address and dropped.
void start_tcp_bootstrap_root(net::Fd listener, uint64_t session_key, const JobSecret& secret, double timeout_s);

int active_tcp_bootstrap_root_count();

}  // namespace strata::runtime
