#include "runtime/transport/routed_transport.h"

#include <algorithm>

#include "common/error.h"

namespace strata::runtime {

RoutedTransport::RoutedTransport(int rank, std::vector<std::unique_ptr<Transport>> owned,
                                 std::vector<Transport*> route)
    : rank_(rank), owned_(std::move(owned)), route_(std::move(route)) {
  for (const auto& transport : owned_) {
    if (!name_.empty()) name_ += "+";
    name_ += transport->name();
    owned_pointers_.push_back(transport.get());
  }
}

std::string RoutedTransport::peer_failure(int peer) {
  Transport& route = transport_for(peer);
  std::string why = route.peer_failure(peer);
  for (size_t index = 0; why.empty() && index < owned_.size(); ++index) {
    if (owned_[index].get() != &route) why = owned_[index]->peer_failure(peer);
  }
  return why;
}

void RoutedTransport::report_failure(int peer, const std::string& why) {
  for (auto& transport : owned_) transport->report_failure(peer, why);
}

Transport& RoutedTransport::transport_for(int peer) const {
  if (peer < 0 || peer >= size() || route_[peer] == nullptr)
    fail(ErrorCode::kInvalidArgument, {rank_, peer, "transport"}, "no transport reaches peer {}", peer);
  return *route_[peer];
}

void RoutedTransport::post_send(int peer, uint64_t tag, const void* data, size_t bytes, Completion* done) {
  transport_for(peer).post_send(peer, tag, data, bytes, done);
}

void RoutedTransport::post_recv(int peer, uint64_t tag, void* data, size_t bytes, Completion* done) {
  transport_for(peer).post_recv(peer, tag, data, bytes, done);
}

void RoutedTransport::cancel(Completion* done) {
  // Each transport ignores completions it does not hold.
  for (auto& transport : owned_) transport->cancel(done);
}

bool RoutedTransport::progress() {
  bool any = false;
  for (auto& transport : owned_) any |= transport->progress();
  return any;
}

void wait_for_any(std::span<Transport* const> transports, std::chrono::microseconds timeout) {
  if (transports.size() == 1) return transports.front()->wait_for_activity(timeout);
  if (timeout.count() <= 0 || transports.empty()) return;
  WaitSet set{.fds = {}, .timeout = timeout};
  size_t armed = 0;
  Transport::Armed result = Transport::Armed::kArmed;
  for (; armed < transports.size() && result == Transport::Armed::kArmed; ++armed)
    result = transports[armed]->arm_wait(set);
  if (result == Transport::Armed::kArmed) sleep_on(set);
  for (size_t i = 0; i < armed; ++i)
    if (i + 1 < armed || result == Transport::Armed::kArmed) transports[i]->disarm_wait();
  if (result != Transport::Armed::kUnsupported) return;
  const auto slice = std::min<std::chrono::microseconds>(timeout, std::chrono::microseconds(50));
  for (Transport* transport : transports) transport->wait_for_activity(slice);
}

void RoutedTransport::wait_for_activity(std::chrono::microseconds timeout) { wait_for_any(owned_pointers_, timeout); }

}  // namespace strata::runtime
