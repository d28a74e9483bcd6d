// Sends each peer's traffic through the transport that reaches it best:
// shared memory to ranks on this host, UCX to the others. To the executor it
// is one transport.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "runtime/transport/transport.h"

namespace strata::runtime {

// Sleeps until any of `transports` may have something to progress, or
// `timeout` passes: one ppoll over all their descriptors when every one can
// arm (Transport::arm_wait); else a short sleep on each in turn, so that
// none waits long behind another and none spins.
void wait_for_any(std::span<Transport* const> transports, std::chrono::microseconds timeout);

class RoutedTransport final : public Transport {
 public:
  // route[peer] is the transport for `peer`; every transport in `owned`
  // numbers ranks the same way (the bootstrap's ranks).
  RoutedTransport(int rank, std::vector<std::unique_ptr<Transport>> owned, std::vector<Transport*> route);

  std::string_view name() const override { return name_; }
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(route_.size()); }

  void post_send(int peer, uint64_t tag, const void* data, size_t bytes, Completion* done) override;
  void post_recv(int peer, uint64_t tag, void* data, size_t bytes, Completion* done) override;
  void post_recv_view(int peer, uint64_t tag, void* staging, size_t bytes, Completion* done) override {
    transport_for(peer).post_recv_view(peer, tag, staging, bytes, done);
  }
  void release_view(int peer, Completion* done) override { transport_for(peer).release_view(peer, done); }
  void set_lanes(int peer, int lanes) override { transport_for(peer).set_lanes(peer, lanes); }
  int connect(int peer, int connections) override { return transport_for(peer).connect(peer, connections); }
  void post_send_via(int peer, int connection, uint64_t tag, const void* data, size_t bytes,
                     Completion* done) override {
    transport_for(peer).post_send_via(peer, connection, tag, data, bytes, done);
  }
  // The transport that reaches `peer` first, then the others: a failure
  // notice about it may come through any of them.
  std::string peer_failure(int peer) override;
  void report_failure(int peer, const std::string& why) override;
  int lane_of(int peer, uint64_t tag) override { return transport_for(peer).lane_of(peer, tag); }
  void cancel(Completion* done) override;
  bool progress() override;
  // wait_for_any over the transports it routes to.
  void wait_for_activity(std::chrono::microseconds timeout) override;

  Transport& transport_for(int peer) const;

 private:
  int rank_;
  std::string name_;
  std::vector<std::unique_ptr<Transport>> owned_;
  std::vector<Transport*> owned_pointers_;  // the same, for wait_for_any
  std::vector<Transport*> route_;
};

}  // namespace strata::runtime
