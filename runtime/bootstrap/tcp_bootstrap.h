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
#include "runtime/bootstrap/join_auth.h"

namespace strata::runtime {

// Opaque to users; exactly the size of ncclUniqueId so it can be memcpy'd.
struct UniqueId {
  std::array<char, 128> bytes;
};
static_assert(sizeof(UniqueId) == 128 && std::is_trivially_copyable_v<UniqueId>);

// Every rank of a job proves to the root that it knows the job's secret,
// and the root proves the same back (join_auth.h, docs/security.md). The
// JoinPolicy says where the secret comes from: by default a random one that
// travels inside the unique id; with a key file each rank digests its own
// copy; with authenticate = false (STRATA_AUTH=off) nobody proves anything.

// Picks the address of interface `ifname` (empty: the first UP non-loopback
// IPv4 interface, else 127.0.0.1), listens on a fresh port and starts the
// root service thread in this process. The root gives up on a round when not
// every rank arrives within `timeout_s`, and exits (closing its sockets) once
// every rank has disconnected, or after an error has been delivered.
UniqueId create_unique_id(const std::string& ifname, double timeout_s, const JoinPolicy& policy = {});

// Rendezvous at a known address (MASTER_ADDR/MASTER_PORT, as torchrun sets
// them): every rank builds the same id from the root's host, port and an
// agreed session key, and one process starts the root service on that port.
// Such ids can carry no secret: joins are authenticated only with a key file.
UniqueId unique_id_at(const std::string& host, uint16_t port, uint64_t session_key, const JoinPolicy& policy = {});
// Throws Error(kSystem) naming the port when it cannot be bound.
void start_root_for(const UniqueId& id, double timeout_s, const JoinPolicy& policy = {});

// Connects rank `rank` of `nranks` to the root named by `id`, retrying until
// `timeout_s`. Validation problems (another rank's nranks disagrees, a rank
// twice, a rank out of range) and missing ranks surface as Error from the
// first allgather on every rank that reached the root; a refused join (wrong
// secret or session key) and a root that cannot prove the secret throw here.
// Each allgather waits at most `timeout_s`. The connection stays open until
// the Bootstrap is destroyed.
std::unique_ptr<Bootstrap> connect_tcp_bootstrap(const UniqueId& id, int rank, int nranks, double timeout_s,
                                                 const JoinPolicy& policy = {});

// The secret the ranks of `id` share (zeros when joins are off): the key
// for anything else a job authenticates. Throws naming `rank` when the id
// wants a key file this process was not given.
JobSecret join_secret(const UniqueId& id, const JoinPolicy& policy, int rank);

// Number of root service threads still running in this process (tests check
// that roots end and release their sockets).
int active_tcp_bootstrap_roots();

}  // namespace strata::runtime
