// NCCL-style rendezvous without MPI: one process creates a unique id (which
// starts a small root service in that process), hands the 128 bytes to every
// rank by any means, and each rank connects to the root with it. Allgather
// rounds go through the root: each rank sends its contribution, the root waits
// for all ranks and answers each with the concatenation.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <type_traits>

#include "runtime/bootstrap/bootstrap.h"

namespace strata::runtime {

// Opaque to users; exactly the size of ncclUniqueId so it can be memcpy'd.
struct UniqueId {
  std::array<char, 128> bytes;
};
static_assert(sizeof(UniqueId) == 128 && std::is_trivially_copyable_v<UniqueId>);

// Picks the address of interface `ifname` (empty: the first UP non-loopback
// IPv4 interface, else 127.0.0.1), listens on a fresh port and starts the
// root service thread in this process. The root gives up on a round when not
// every rank arrives within `timeout_s`, and exits (closing its sockets) once
// every rank has disconnected, or after an error has been delivered.
UniqueId create_unique_id(const std::string& ifname, double timeout_s);

// Rendezvous at a known address (MASTER_ADDR/MASTER_PORT, as torchrun sets
// them): every rank builds the same id from the root's host, port and an
// agreed session key, and one process starts the root service on that port.
UniqueId unique_id_at(const std::string& host, uint16_t port, uint64_t session_key);
// Throws Error(kSystem) naming the port when it cannot be bound.
void start_root_for(const UniqueId& id, double timeout_s);

// Connects rank `rank` of `nranks` to the root named by `id`, retrying until
// `timeout_s`. Validation problems (another rank's nranks disagrees, a rank
// twice, a rank out of range) and missing ranks surface as Error from the
// first allgather on every rank that reached the root. Each allgather waits
// at most `timeout_s`. The connection stays open until the Bootstrap is destroyed.
std::unique_ptr<Bootstrap> connect_tcp_bootstrap(const UniqueId& id, int rank, int nranks, double timeout_s);

// Number of root service threads still running in this process (tests check
// that roots end and release their sockets).
int active_tcp_bootstrap_roots();

}  // namespace strata::runtime
