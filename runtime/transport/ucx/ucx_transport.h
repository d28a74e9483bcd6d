// The data-plane transport over UCX tag matching: one UCP context and worker
// per transport, endpoints to peers created on first use, completions
// reported through Completion flags, and a wait that sleeps on the worker's
// event fd instead of spinning.
//
// Lanes: each peer may be reached through several UCP endpoints (over tcp,
// each its own TCP connection), because one TCP connection cannot fill a
// long, fat link when its window or congestion control stalls. Not to be
// confused with UCX's own "lanes" (ucp_ep_print_info's lane[i]: transports
// inside one endpoint). Receives are unaffected: UCX matches tags per worker,
// whichever endpoint a message came through.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/bootstrap/bootstrap.h"
#include "runtime/transport/transport.h"

namespace strata::runtime {

// Plain values so this library does not read runtime::config(); the caller
// passes config().ucx_shm and config().timeout_s.
struct UcxTransportOptions {
  // false keeps UCX off its shared-memory transports (UCX_TLS=^sm: posix,
  // sysv, xpmem, knem, cma), e.g. between emulated sites on one host; UCX
  // then uses only network transports, even for a rank's messages to itself.
  bool allow_shared_memory = true;
  // Bounds the waits inside cancel() and teardown (each at most
  // min(timeout_s, 10 s); 0.2 s for a transfer with a peer known gone).
  // UCX's keepalive checks peers every 250 ms (UCX_KEEPALIVE_INTERVAL in
  // the environment overrides it).
  double timeout_s = 300;
  // UCX_NET_DEVICES for this transport, e.g. "lo" or "eth0,ib0:1"; empty
  // leaves UCX's choice (every usable interface, or the UCX_NET_DEVICES env).
  std::string network_devices;
  // UCP endpoints (lanes) to each other rank, 1..kMaxUcxLanes; a rank's
  // messages to itself use one. Each send goes on the lane its tag picks, so
  // messages with equal tags stay in order (UCX orders them per endpoint
  // only), and consecutive message indices or sequences of wire tags
  // (runtime/engine/wire_tag.h) take consecutive lanes. A single message is never
  // split: lanes help only when several messages to a peer are in flight.
  // Both sides should use the same count: the k-th endpoint each side makes
  // toward the other pairs up with the other's k-th (one connection per pair).
  int lanes = 1;
  // Liveness: while this rank waits on a peer and hears nothing from it, it
  // pings it (every min(1 s, peer_timeout_s / 5)); a peer that answers
  // nothing for peer_timeout_s is failed, naming the timeout, and reported
  // to every other rank. A background thread answers pings while the caller
  // is busy elsewhere. 0 turns liveness off (no thread).
  double peer_timeout_s = 0;
  // Look at the processes of peers on this host (pid, start time) to see
  // deaths that make no network event. false stands for peers on other
  // hosts, e.g. emulated sites on one machine (tests, benchmarks).
  bool watch_local_processes = true;
};

inline constexpr int kMaxUcxLanes = 16;

// The lane (0..lanes-1) a message with `tag` takes. A function of the tag
// alone, so equal tags share a lane. It adds the low 18 bits (a wire tag's
// message index) to the rest shifted down (its sequence, sender, ...): the
// n-th chunk of an operation and the n-th one-message operation both rotate
// over the lanes; for small tags it is simply tag % lanes.
inline int ucx_lane_for_tag(uint64_t tag, int lanes) {
  constexpr int kIndexBits = 18;  // runtime/engine/wire_tag.h: [17:0] message index
  uint64_t folded = (tag & ((uint64_t{1} << kIndexBits) - 1)) + (tag >> kIndexBits);
  return static_cast<int>(folded % static_cast<uint64_t>(lanes));
}

// The lane count the communicator uses when STRATA_LANES=0 (automatic):
// enough TCP connections that their windows together cover a 1 Gbit/s x
// 80 ms path (10 MB), given the kernel's cap on one connection's receive
// buffer (net.ipv4.tcp_rmem max, of this network namespace). Measured on
// strata-sites, 2 sites, 1 Gbit/s, 256 MiB in 1 MiB messages: with the
// Linux default cap (6 MiB) one connection reached 0.28 Gbit/s at 80 ms RTT
// and 4 lanes 0.96; with a 64 MiB cap one connection reached 0.96 and more
// lanes only added queueing (4 lanes: 0.92 at 20 ms). So: 4 at 6 MiB, 1 at
// 32 MiB and above. Returns 1 if the sysctl cannot be read.
int automatic_ucx_lanes();
// The same rule for a given cap in bytes (for tests).
int automatic_ucx_lanes_for(uint64_t tcp_rmem_max);
// The same rule for one link whose bandwidth-delay product is `bdp_bytes`
// (the communicator sizes each peer's lanes with it once the topology probe
// has measured the link): 1 for a short link, more for a long fat one.
int ucx_lanes_for_bdp(double bdp_bytes, uint64_t tcp_rmem_max);
// net.ipv4.tcp_rmem's max in this network namespace; 0 if unreadable.
uint64_t tcp_rmem_max();

// Collective over `bootstrap`: every rank creates its worker, and worker
// addresses and process identities are exchanged with two allgathers (the
// bootstrap is not used afterwards). Throws Error(kSystem) if UCX cannot start.
//
// The transport may be used from several threads (calls are serialized by a
// mutex; a thread in wait_for_activity is woken by completions that other
// threads make). A peer that dies fails the transfers pending with it: UCX
// reports broken connections, and peers on this host are also checked
// directly every second while transfers with them are pending. A rank that
// finds a peer gone tells every other rank (a failure notice), so that
// peer_failure() reports it on ranks that never talked to it.
// Destroying the transport says goodbye to the peers it talked with (so
// that its exit is not taken for a death, even while they still read its
// last messages), then flushes and closes its endpoints; over tcp that
// needs the peers to progress, so destroy it on all ranks at about the same
// time (e.g. after a barrier), or the destructor waits up to min(timeout_s, 10 s).
std::unique_ptr<Transport> create_ucx_transport(Bootstrap& bootstrap, const UcxTransportOptions& options);

// UCX's account of the lanes (transport/device per lane) it uses toward `peer`,
// connecting first if needed; for STRATA_DEBUG=INFO logs and for tests. With
// several Strata lanes, one block per endpoint, each headed "endpoint k of n".
// Throws Error(kInvalidArgument) if `transport` is not a UCX transport.
std::string describe_ucx_path(Transport& transport, int peer);

}  // namespace strata::runtime
