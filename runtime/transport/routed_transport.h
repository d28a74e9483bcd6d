// Sends each peer's traffic through the transport that reaches it best:
// shared memory to ranks on this host, UCX to the others. To the executor it
// is one transport.
#pragma once

#include <memory>
#include <vector>

#include "runtime/transport/transport.h"

namespace strata::runtime {

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
  void cancel(Completion* done) override;
  bool progress() override;
  // Sleeps once on every transport's descriptors when all of them can
  // (Transport::arm_wait), woken by whichever has work first.
  void wait_for_activity(std::chrono::microseconds timeout) override;

  Transport& transport_for(int peer) const;

 private:
  int rank_;
  std::string name_;
  std::vector<std::unique_ptr<Transport>> owned_;
  std::vector<Transport*> route_;
};

}  // namespace strata::runtime
