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
  }
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

void RoutedTransport::wait_for_activity(std::chrono::microseconds timeout) {
  if (owned_.size() == 1) return owned_.front()->wait_for_activity(timeout);
  if (timeout.count() <= 0) return;
  WaitSet set{.fds = {}, .timeout = timeout};
  size_t armed = 0;
  Armed result = Armed::kArmed;
  for (; armed < owned_.size() && result == Armed::kArmed; ++armed) result = owned_[armed]->arm_wait(set);
  if (result == Armed::kArmed) sleep_on(set);
  for (size_t i = 0; i < armed; ++i)
    if (i + 1 < armed || result == Armed::kArmed) owned_[i]->disarm_wait();
  if (result != Armed::kUnsupported) return;
  // A transport that can only sleep alone: briefly on each in turn, so
  // neither waits long behind the other and neither spins.
  const auto slice = std::min<std::chrono::microseconds>(timeout, std::chrono::microseconds(50));
  for (auto& transport : owned_) transport->wait_for_activity(slice);
}

}  // namespace strata::runtime
