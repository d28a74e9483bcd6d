#include "runtime/transport/loopback/loopback_transport.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

namespace strata::runtime {
namespace {

struct Posted {
  void* data;  // const for sends
  size_t bytes;
  Completion* done;
};

// Matching table shared by the endpoints of one loopback world.
class Fabric {
 public:
  void send(int from, int to, uint64_t tag, const void* data, size_t bytes, Completion* done) {
    std::lock_guard lock(mutex_);
    if (auto receive = take(receives_, {to, from, tag}))
      deliver(data, bytes, done, *receive);
    else
      sends_[{to, from, tag}].push_back({const_cast<void*>(data), bytes, done});
  }

  void recv(int at, int from, uint64_t tag, void* data, size_t bytes, Completion* done) {
    std::lock_guard lock(mutex_);
    if (auto send = take(sends_, {at, from, tag}))
      deliver(send->data, send->bytes, send->done, {data, bytes, done});
    else
      receives_[{at, from, tag}].push_back({data, bytes, done});
  }

  void cancel(Completion* done) {
    std::lock_guard lock(mutex_);
    for (auto* table : {&sends_, &receives_})
      for (auto& [key, queue] : *table)
        std::erase_if(queue, [&](const Posted& posted) { return posted.done == done; });
  }

  void wait(std::chrono::microseconds timeout) {
    std::unique_lock lock(mutex_);
    const uint64_t seen = deliveries_;
    activity_.wait_for(lock, timeout, [&] { return deliveries_ != seen; });
  }

 private:
  using Key = std::tuple<int, int, uint64_t>;  // (receiver, sender, tag)
  using Table = std::map<Key, std::deque<Posted>>;

  // Removes and returns the oldest entry under `key`, dropping empty queues
  // so the table holds only what is outstanding.
  static std::optional<Posted> take(Table& table, const Key& key) {
    auto it = table.find(key);
    if (it == table.end()) return std::nullopt;
    const Posted posted = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) table.erase(it);
    return posted;
  }

  void deliver(const void* data, size_t bytes, Completion* sent, const Posted& receive) {
    if (bytes > receive.bytes) {
      const std::string why = fmt::format("message of {} bytes for a {}-byte receive", bytes, receive.bytes);
      receive.done->error = why;
      sent->error = why;
      receive.done->state.store(Completion::kFailed, std::memory_order_release);
      sent->state.store(Completion::kFailed, std::memory_order_release);
    } else {
      if (bytes) std::memcpy(receive.data, data, bytes);
      receive.done->received_bytes = bytes;
      receive.done->state.store(Completion::kDone, std::memory_order_release);
      sent->state.store(Completion::kDone, std::memory_order_release);
    }
    ++deliveries_;
    activity_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable activity_;
  uint64_t deliveries_ = 0;
  Table sends_;
  Table receives_;
};

class LoopbackTransport final : public Transport {
 public:
  LoopbackTransport(std::shared_ptr<Fabric> fabric, int rank, int size)
      : fabric_(std::move(fabric)), rank_(rank), size_(size) {}

  std::string_view name() const override { return "loopback"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void post_send(int peer, uint64_t tag, const void* data, size_t bytes, Completion* done) override {
    fabric_->send(rank_, peer, tag, data, bytes, done);
  }
  void post_recv(int peer, uint64_t tag, void* data, size_t bytes, Completion* done) override {
    fabric_->recv(rank_, peer, tag, data, bytes, done);
  }
  void cancel(Completion* done) override { fabric_->cancel(done); }
  bool progress() override { return false; }  // transfers complete inside post_*
  void wait_for_activity(std::chrono::microseconds timeout) override { fabric_->wait(timeout); }

 private:
  std::shared_ptr<Fabric> fabric_;
  int rank_;
  int size_;
};

}  // namespace

std::vector<std::unique_ptr<Transport>> create_loopback_transports(int nranks) {
  auto fabric = std::make_shared<Fabric>();
  std::vector<std::unique_ptr<Transport>> transports;
  for (int rank = 0; rank < nranks; ++rank)
    transports.push_back(std::make_unique<LoopbackTransport>(fabric, rank, nranks));
  return transports;
}

}  // namespace strata::runtime
