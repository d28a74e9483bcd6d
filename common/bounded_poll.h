// Waiting on something that can only be asked (a CUDA stream or event):
// asks until it answers done or the limit passes, backing off from a busy
// check to 1 ms sleeps, so a wait that takes long costs little CPU.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace strata {

// Returns true once `done()` is true, false when `timeout_s` passed first.
template <typename Done>
bool poll_until(Done done, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  auto pause = std::chrono::microseconds(0);
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
    pause = std::min(std::chrono::microseconds(1000), pause * 2 + std::chrono::microseconds(1));
  }
}

}  // namespace strata
