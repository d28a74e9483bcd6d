// State the NCCL layer keeps beside a communicator (staging buffers, CUDA
// IPC scratch), found by the communicator's address. The state of a
// communicator that is gone is freed when the next one is made, outside the
// lock; a registry is meant to live for the whole process (never destroyed
// at exit, when the CUDA driver may already be unloaded).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/communicator/communicator.h"

namespace strata::nccl {

template <typename State>
class PerComm {
 public:
  // The state of `comm`, or null when it has none (or is gone).
  std::shared_ptr<State> find(const runtime::Communicator* comm) {
    if (!any_.load(std::memory_order_relaxed)) return nullptr;
    std::lock_guard lock(mutex_);
    auto found = states_.find(comm);
    if (found == states_.end() || found->second.first.expired()) return nullptr;
    return found->second.second;
  }

  // The state of `comm`, made on first use.
  std::shared_ptr<State> of(const std::shared_ptr<runtime::Communicator>& comm) {
    std::vector<std::shared_ptr<State>> dead;  // freed after the lock is released
    std::lock_guard lock(mutex_);
    auto found = states_.find(comm.get());
    if (found != states_.end() && found->second.first.lock() == comm) return found->second.second;
    for (auto it = states_.begin(); it != states_.end();) {
      if (it->second.first.expired()) {
        dead.push_back(std::move(it->second.second));
        it = states_.erase(it);
      } else {
        ++it;
      }
    }
    auto state = std::make_shared<State>();
    states_[comm.get()] = {comm, state};
    any_.store(true);
    return state;
  }

  // Forgets the state of `comm` when it is `state`; it goes with its last reference.
  void forget(const runtime::Communicator* comm, const std::shared_ptr<State>& state) {
    std::lock_guard lock(mutex_);
    auto found = states_.find(comm);
    if (found != states_.end() && found->second.second == state) states_.erase(found);
  }

 private:
  std::mutex mutex_;
  std::map<const runtime::Communicator*, std::pair<std::weak_ptr<runtime::Communicator>, std::shared_ptr<State>>>
      states_;
  std::atomic<bool> any_{false};
};

}  // namespace strata::nccl
