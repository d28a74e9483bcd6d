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
  bool view = false;  // a receive by post_recv_view
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

  void recv(int at, int from, uint64_t tag, void* data, size_t bytes, Completion* done, bool view) {
    std::lock_guard lock(mutex_);
    if (auto send = take(sends_, {at, from, tag}))
      deliver(send->data, send->bytes, send->done, {data, bytes, done, view});
    else
      receives_[{at, from, tag}].push_back({data, bytes, done, view});
  }

  // The send whose buffer a view receive was reading ends now.
  void release(Completion* view) {
    std::lock_guard lock(mutex_);
    release_locked(view);
  }

  void cancel(Completion* done) {
    std::lock_guard lock(mutex_);
    release_locked(done);
    // take() relies on every queue in a table being non-empty.
    for (Table* table : {&sends_, &receives_}) {
      for (auto& [key, queue] : *table) std::erase_if(queue, [&](const Posted& posted) { return posted.done == done; });
      std::erase_if(*table, [](const auto& entry) { return entry.second.empty(); });
    }
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
      // A view reads the sender's buffer in place; the send ends at release.
      if (receive.view) {
        receive.done->view = static_cast<const std::byte*>(data);
        held_.emplace(receive.done, sent);
      } else if (bytes) {
        std::memcpy(receive.data, data, bytes);
      }
      receive.done->received_bytes = bytes;
      receive.done->state.store(Completion::kDone, std::memory_order_release);
      if (!receive.view) sent->state.store(Completion::kDone, std::memory_order_release);
    }
    ++deliveries_;
    activity_.notify_all();
  }

  void release_locked(Completion* view) {
    auto held = held_.find(view);
    if (held == held_.end()) return;
    held->second->state.store(Completion::kDone, std::memory_order_release);
    held_.erase(held);
    ++deliveries_;
    activity_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable activity_;
  std::map<Completion*, Completion*> held_;  // view receive -> the send it reads
  uint64_t deliveries_ = 0;
  Table sends_;
  Table receives_;
};

class LoopbackTransport final : public Transport {
 public:
  LoopbackTransport(std::shared_ptr<Fabric> fabric, int rank, int size, bool views)
      : fabric_(std::move(fabric)), rank_(rank), size_(size), views_(views) {}

  std::string_view name() const override { return "loopback"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void post_send(int peer, uint64_t tag, const void* data, size_t bytes, Completion* done) override {
    fabric_->send(rank_, peer, tag, data, bytes, done);
  }
  void post_recv(int peer, uint64_t tag, void* data, size_t bytes, Completion* done) override {
    fabric_->recv(rank_, peer, tag, data, bytes, done, false);
  }
  void post_recv_view(int peer, uint64_t tag, void* staging, size_t bytes, Completion* done) override {
    done->view = static_cast<const std::byte*>(staging);  // unless it reads the sender's buffer
    fabric_->recv(rank_, peer, tag, staging, bytes, done, views_);
  }
  void release_view(int /*peer*/, Completion* done) override { fabric_->release(done); }
  void cancel(Completion* done) override { fabric_->cancel(done); }
  bool progress() override { return false; }  // transfers complete inside post_*
  void wait_for_activity(std::chrono::microseconds timeout) override { fabric_->wait(timeout); }

 private:
  std::shared_ptr<Fabric> fabric_;
  int rank_;
  int size_;
  bool views_;
};

}  // namespace

std::vector<std::unique_ptr<Transport>> create_loopback_transports(int nranks, bool views) {
  auto fabric = std::make_shared<Fabric>();
  std::vector<std::unique_ptr<Transport>> transports;
  for (int rank = 0; rank < nranks; ++rank)
    transports.push_back(std::make_unique<LoopbackTransport>(fabric, rank, nranks, views));
  return transports;
}

}  // namespace strata::runtime
