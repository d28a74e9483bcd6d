// Message sizes the layers agree on without depending on each other.
#pragma once

#include <cstdint>

namespace strata {

// Transports send messages up to this size eagerly (one one-way delay, no
// rendezvous round trip; for UCX this is UCX_RNDV_THRESH, see
// runtime/transport/ucx/ucx_worker.cc). Algorithms keep messages that cross
// long links within it.
inline constexpr uint64_t kEagerMessageBytes = uint64_t{1} << 20;

}  // namespace strata
