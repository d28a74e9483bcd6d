// The intra-host transport for host buffers: processes (or threads, each
// with its own transport) on one machine exchange messages through rings in
// POSIX shared memory. Small messages are copied through a ring cell; large
// ones are read by the receiver straight from the sender's buffer with
// process_vm_readv (CMA, one copy), or streamed through the ring where CMA is
// not permitted. Waiting sleeps in poll() on a socket that senders signal
// only when the receiver announced in shared memory that it sleeps.
//
// Completion: a send below 8 KiB (of any size without CMA) completes once
// copied into the ring, as an MPI eager send, so a receive too short for it
// fails only the receive; larger sends complete when the receiver has read
// them, and a receive too short for them fails on both sides. A peer that dies or destroys its
// transport fails the transfers pending with it within about 100 ms.
#pragma once

#include <memory>
#include <vector>

#include "runtime/bootstrap/bootstrap.h"
#include "runtime/transport/transport.h"

namespace strata::runtime {

// Plain values so this library does not read runtime::config().
struct ShmTransportOptions {
  // Bounds the transport's own waits: cancel() of a large send while the
  // receiver is copying from it, and teardown.
  double timeout_s = 300;
  // false never uses CMA and streams large messages through the ring (two
  // copies); for tests, and for hosts whose ptrace rules forbid CMA (which
  // the transport also detects by itself at creation).
  bool use_cma = true;
  // A peer process that stays stopped (SIGSTOP, a debugger) this long while
  // transfers are pending is failed, naming the timeout; 0: never.
  double peer_timeout_s = 0;
};

// Collective over `bootstrap`: every rank of the bootstrap calls it, also
// ranks with no local peers. `local_ranks` are the bootstrap ranks on this
// host (including this rank), the same list on each of them. Every rank
// makes exactly two allgathers of fixed size, so ranks on different hosts
// stay in step. The transport's ranks are the bootstrap's; it reaches exactly
// `local_ranks`, and post_* toward any other rank throws
// Error(kInvalidArgument). Throws Error(kSystem) on every rank if any rank
// could not set up its segment or map a peer's, and Error(kInvalidArgument)
// if `local_ranks` lacks this rank or repeats one.
std::unique_ptr<Transport> create_shm_transport(Bootstrap& bootstrap, const std::vector<int>& local_ranks,
                                                const ShmTransportOptions& options);

// For a transport that sleeps on this one together with others (routing
// between shm and UCX), in the manner of ucp_worker_arm:
//   if (shm_arm_wait(shm)) {
//     poll() on shm_wait_fd(shm) and the other transports' descriptors;
//     shm_disarm_wait(shm);
//   }
// shm_arm_wait returns false, and arms nothing, when there is work to
// progress already. The descriptor turns readable when a message, a freed
// ring or another thread's completion may need progress(). Keep each poll
// under about 100 ms: shm_disarm_wait() is where an idle transport checks
// (every 100 ms) whether its peers died.
// All three throw Error(kInvalidArgument) if `transport` is not from
// create_shm_transport.
int shm_wait_fd(Transport& transport);
bool shm_arm_wait(Transport& transport);
void shm_disarm_wait(Transport& transport);

}  // namespace strata::runtime
