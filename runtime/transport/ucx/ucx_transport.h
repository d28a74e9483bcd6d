// The data-plane transport over UCX tag matching: one UCP context and worker
// per transport, endpoints to peers created on first use, completions
// reported through Completion flags, and a wait that sleeps on the worker's
// event fd instead of spinning.
#pragma once

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
  // min(timeout_s, 10 s)), and sets how often UCX's keepalive checks peers
  // (timeout_s / 10, within 1..20 s; overrides UCX_KEEPALIVE_INTERVAL).
  double timeout_s = 300;
  // UCX_NET_DEVICES for this transport, e.g. "lo" or "eth0,ib0:1"; empty
  // leaves UCX's choice (every usable interface, or the UCX_NET_DEVICES env).
  std::string network_devices;
};

// Collective over `bootstrap`: every rank creates its worker, and worker
// addresses and process identities are exchanged with two allgathers (the
// bootstrap is not used afterwards). Throws Error(kSystem) if UCX cannot start.
//
// The transport may be used from several threads (calls are serialized by a
// mutex; a thread in wait_for_activity is woken by completions that other
// threads make). A peer that dies fails the transfers pending with it: UCX
// reports broken connections, and peers on this host are also checked
// directly every second while transfers with them are pending.
// Destroying the transport flushes and closes its endpoints; over tcp that
// needs the peers to progress, so destroy it on all ranks at about the same
// time (e.g. after a barrier), or the destructor waits up to min(timeout_s, 10 s).
std::unique_ptr<Transport> create_ucx_transport(Bootstrap& bootstrap, const UcxTransportOptions& options);

// UCX's account of the lanes (transport/device per lane) it uses toward `peer`,
// connecting first if needed; for STRATA_DEBUG=INFO logs and for tests.
// Throws Error(kInvalidArgument) if `transport` is not a UCX transport.
std::string describe_ucx_path(Transport& transport, int peer);

}  // namespace strata::runtime
