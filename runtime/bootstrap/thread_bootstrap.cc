#include "runtime/bootstrap/thread_bootstrap.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "common/error.h"

namespace strata::runtime {

// One round at a time: the last rank to arrive concatenates the round's
// contributions into `result` and bumps `completed_rounds`. A rank can start
// the next round before a slower one has copied `result`, but that round
// cannot complete (and overwrite it) until the slow rank contributes too.
struct ThreadBootstrapGroup::State {
  State(int nranks, double timeout_s)
      : nranks(nranks), timeout_s(timeout_s), joined(nranks, false), contributions(nranks) {}

  const int nranks;
  const double timeout_s;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<bool> joined;
  std::vector<std::optional<std::vector<std::byte>>> contributions;  // current round
  int arrived = 0;
  uint64_t completed_rounds = 0;
  std::vector<std::byte> result;  // of round completed_rounds - 1
  std::optional<Error> broken;    // a failed round breaks the group for everyone
};

namespace {

using State = ThreadBootstrapGroup::State;

class ThreadBootstrap final : public Bootstrap {
 public:
  ThreadBootstrap(std::shared_ptr<State> state, int rank)
      : state_(std::move(state)), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return state_->nranks; }
  std::vector<std::byte> allgather(std::span<const std::byte> mine) override;

 private:
  void complete_round_locked();
  [[noreturn]] void break_group_locked(ErrorCode code, std::string message);

  std::shared_ptr<State> state_;
  int rank_;
  uint64_t round_ = 0;
};

void ThreadBootstrap::break_group_locked(ErrorCode code, std::string message) {
  state_->broken = Error(code, std::move(message), {rank_, -1, "bootstrap allgather"});
  state_->changed.notify_all();
  throw *state_->broken;
}

void ThreadBootstrap::complete_round_locked() {
  State& state = *state_;
  size_t length = state.contributions[0]->size();
  state.result.clear();
  for (int rank = 0; rank < state.nranks; ++rank) {
    auto& contribution = *state.contributions[rank];
    if (contribution.size() != length) {
      break_group_locked(ErrorCode::kInvalidArgument,
                         fmt::format("round {}: rank 0 contributed {} bytes but rank {} contributed {}", round_,
                                     length, rank, contribution.size()));
    }
    state.result.insert(state.result.end(), contribution.begin(), contribution.end());
    state.contributions[rank].reset();
  }
  state.arrived = 0;
  ++state.completed_rounds;
  state.changed.notify_all();
}

std::vector<std::byte> ThreadBootstrap::allgather(std::span<const std::byte> mine) {
  State& state = *state_;
  std::unique_lock lock(state.mutex);
  if (state.broken) throw *state.broken;
  state.contributions[rank_].emplace(mine.begin(), mine.end());
  if (++state.arrived == state.nranks) complete_round_locked();

  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(state.timeout_s);
  bool done = state.changed.wait_until(lock, deadline, [&] { return state.completed_rounds > round_ || state.broken; });
  if (state.completed_rounds > round_) {
    ++round_;
    return state.result;
  }
  if (state.broken) throw *state.broken;
  (void)done;
  break_group_locked(ErrorCode::kTimeout, fmt::format("round {}: {} of {} ranks arrived within {:.3g} s", round_,
                                                      state.arrived, state.nranks, state.timeout_s));
}

}  // namespace

ThreadBootstrapGroup::ThreadBootstrapGroup(int nranks, double timeout_s) {
  if (nranks <= 0) fail(ErrorCode::kInvalidArgument, {}, "thread bootstrap needs at least one rank, got {}", nranks);
  state_ = std::make_shared<State>(nranks, timeout_s);
}

ThreadBootstrapGroup::~ThreadBootstrapGroup() = default;

int ThreadBootstrapGroup::size() const { return state_->nranks; }

std::unique_ptr<Bootstrap> ThreadBootstrapGroup::join(int rank) {
  std::lock_guard lock(state_->mutex);
  ErrorContext context{rank, -1, "thread bootstrap join"};
  if (rank < 0 || rank >= state_->nranks) {
    fail(ErrorCode::kInvalidArgument, context, "rank {} is out of range: there are {} ranks", rank, state_->nranks);
  }
  if (state_->joined[rank]) fail(ErrorCode::kInvalidArgument, context, "rank {} joined twice", rank);
  state_->joined[rank] = true;
  return std::make_unique<ThreadBootstrap>(state_, rank);
}

}  // namespace strata::runtime
