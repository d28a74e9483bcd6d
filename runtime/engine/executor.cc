#include "runtime/engine/executor.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.h"
#include "common/host_reduce.h"
#include "compression/codec.h"
#include "runtime/transport/routed_transport.h"

namespace strata::runtime {
namespace {

using collectives::Region;
using collectives::Step;
using collectives::StepId;
using collectives::StepKind;
using Clock = std::chrono::steady_clock;

// Progress state of one bound operation.
// Objects are reused from call to call (see execute()), so that a small
// operation allocates nothing once the shapes repeat.
class OperationRun {
 public:
  void reset(BoundOperation& op) {
    op_ = &op;
    steps_ = &op.schedule->steps;
    pending_.assign(op.schedule->dependency_counts.begin(), op.schedule->dependency_counts.end());
    if (completion_capacity_ < steps_->size()) {
      completion_capacity_ = steps_->size();
      completions_ = std::make_unique<Completion[]>(completion_capacity_);
    }
    ready_.clear();
    in_flight_.clear();
    finished_ = 0;
    if (op.metrics && metered_.size() < steps_->size()) metered_.resize(steps_->size());
    for (StepId id = 0; id < steps_->size(); ++id)
      if (pending_[id] == 0) ready_.push_back(id);
  }

  bool done() const { return finished_ == steps_->size(); }

  // Starts every ready step; local steps run now. Returns whether anything ran.
  bool start_ready() {
    bool any = false;
    while (!ready_.empty()) {
      const StepId id = ready_.back();
      ready_.pop_back();
      start(id);
      any = true;
    }
    return any;
  }

  // Retires finished transfers. Returns whether any finished.
  bool collect() {
    bool any = false;
    for (size_t i = 0; i < in_flight_.size();) {
      const StepId id = in_flight_[i];
      const uint8_t state = completions_[id].state.load(std::memory_order_acquire);
      if (state == Completion::kPending) {
        ++i;
        continue;
      }
      if (state == Completion::kFailed) fail_transfer(id);
      in_flight_[i] = in_flight_.back();
      in_flight_.pop_back();
      const Step& step = (*steps_)[id];
      if (op_->metrics) count_ended(id, step);
      if (step.encoded && step.kind == StepKind::kRecv) check_arrival(id);
      if (step.kind != StepKind::kSend && is_far(step.peer))
        note_far_receive(step.encoded ? completions_[id].received_bytes : step.dst.bytes);
      if (step.kind != StepKind::kSend && op_->site_flows)
        op_->site_flows->received(step.peer, completions_[id].received_bytes);
      if (step.kind == StepKind::kRecvReduce) reduce_view(id);
      complete(id);
      any = true;
    }
    return any;
  }

  void cancel_in_flight() {
    for (StepId id : in_flight_) {
      op_->transport->cancel(&completions_[id]);
      if (op_->metrics) op_->metrics->transfer_cancelled(metered_[id].link, metered_[id].direction, telemetry::now_ns());
    }
    in_flight_.clear();
  }

  // The communicator ranks this run still waits on: receives that have not
  // arrived, sends the peer has not taken. Named in timeout errors.
  void add_waits(std::vector<int>& receives, std::vector<int>& sends) const {
    for (StepId id : in_flight_) {
      if (completions_[id].state.load(std::memory_order_acquire) != Completion::kPending) continue;
      const Step& step = (*steps_)[id];
      std::vector<int>& list = step.kind == StepKind::kSend ? sends : receives;
      if (std::find(list.begin(), list.end(), step.peer) == list.end()) list.push_back(step.peer);
    }
  }

  // A collective cannot complete once any member is gone, even one this
  // rank never talks to (it waits on a peer that waits on the dead one):
  // the first such member and why, or -1. Point-to-point calls fail through
  // their own transfers.
  int gone_member(std::string& why) const {
    if (op_->tag.point_to_point) return -1;
    for (int member = 0; member < op_->nranks; ++member) {
      if (member == op_->rank) continue;
      why = op_->transport->peer_failure(op_->transport_rank_of[member]);
      if (!why.empty()) return member;
    }
    return -1;
  }

  // Tells the transport (which tells the other ranks) that `member` is gone.
  void report_gone(int member, const std::string& why) const {
    op_->transport->report_failure(op_->transport_rank_of[member], why);
  }

  Transport* transport() const { return op_->transport; }
  bool aborted() const { return op_->aborted && op_->aborted->load(std::memory_order_relaxed); }
  int rank() const { return op_->rank; }

 private:
  std::byte* address(const Region& region) const { return op_->buffers[region.buffer] + region.offset; }

  void start(StepId id) {
    const Step& step = (*steps_)[id];
    switch (step.kind) {
      case StepKind::kCopy: copy(step); break;
      case StepKind::kReduce: reduce(step.dst, step.src, address(step.src2)); break;
      case StepKind::kFinish:
        host_finish(op_->schedule->request.dtype, op_->finish, address(step.dst), elements(step.dst));
        break;
      case StepKind::kEncode: encode(step); break;
      case StepKind::kDecode: decode(step); break;
      case StepKind::kSend:
      case StepKind::kRecv:
      case StepKind::kRecvReduce:
        if (post(id, step)) return;  // completes later
        break;
    }
    complete(id);
  }

  void encode(const Step& step) {
    float* feedback = step.src2.bytes > 0 ? reinterpret_cast<float*>(address(step.src2)) : nullptr;
    compression::encode(op_->schedule->request.wan_format, reinterpret_cast<const float*>(address(step.src)),
                        elements(step.src), feedback, address(step.dst));
  }

  // A decode's message arrived whole (check_arrival) or was encoded here.
  void decode(const Step& step) {
    const std::byte* message = address(step.src);
    try {
      compression::decode(op_->schedule->request.wan_format, message, compression::message_bytes(message, step.src.bytes),
                          reinterpret_cast<float*>(address(step.dst)), elements(step.dst));
    } catch (const Error& error) {
      fail_codec(-1, error);
    }
  }

  // An encoded message must be exactly as long as its header says.
  void check_arrival(StepId id) {
    const uint64_t got = completions_[id].received_bytes;
    try {
      const uint64_t claimed = compression::message_bytes(address((*steps_)[id].dst), got);
      if (claimed != got)
        fail(ErrorCode::kRemote, {}, "compressed message rejected: it claims {} bytes but {} arrived", claimed, got);
    } catch (const Error& error) {
      fail_codec((*steps_)[id].peer, error);
    }
  }

  // A message the codec rejected fails the call, naming this rank and the sender.
  [[noreturn]] void fail_codec(int peer, const Error& error) {
    cancel_in_flight();
    fail(ErrorCode::kRemote, {op_->rank, peer, std::string(collectives::collective_name(op_->schedule->request.collective))},
         "{}{}", peer >= 0 ? fmt::format("from rank {}: ", peer) : "", error.what());
  }

  // Posts a transfer; returns false if there is nothing to move (zero bytes:
  // both sides know the length, so neither sends a message).
  bool post(StepId id, const Step& step) {
    uint64_t bytes = step.kind == StepKind::kSend ? step.src.bytes : step.dst.bytes;
    if (bytes == 0) return false;  // a zero-length reduce has nothing to do
    // An encoded message sends only its own length (the region is its capacity).
    if (step.encoded && step.kind == StepKind::kSend) bytes = compression::message_bytes(address(step.src), bytes);
    const int peer = op_->transport_rank_of[step.peer];
    if (is_far(step.peer) && !op_->far_traffic->started) {
      op_->far_traffic->started = true;
      op_->far_traffic->first_post = Clock::now();
    }
    Completion* done = &completions_[id];
    done->state.store(Completion::kPending, std::memory_order_relaxed);
    const bool send = step.kind == StepKind::kSend;
    const uint64_t tag = op_->tag.for_message(send ? op_->transport->rank() : peer, step.message_index);
    if (op_->metrics) count_started(id, step, peer, tag, bytes);
    in_flight_.push_back(id);
    if (send) {
      op_->transport->post_send(peer, tag, address(step.src), bytes, done);
    } else if (step.kind == StepKind::kRecv) {
      op_->transport->post_recv(peer, tag, address(step.dst), bytes, done);
    } else {
      // The transport may hand back the sender's own buffer to reduce from
      // (a node-shared allocation on this host), skipping the copy into staging.
      op_->transport->post_recv_view(peer, tag, op_->staging + step.staging_offset, bytes, done);
    }
    return true;
  }

  // Telemetry: which link a transfer takes, when it started, and how much it moves.
  void count_started(StepId id, const Step& step, int endpoint, uint64_t tag, uint64_t bytes) {
    Metered& metered = metered_[id];
    metered.direction = step.kind == StepKind::kSend ? telemetry::kSend : telemetry::kReceive;
    metered.link = op_->metrics->link_index(step.peer, op_->transport->lane_of(endpoint, tag));
    metered.bytes = bytes;
    metered.started_ns = telemetry::now_ns();
    op_->metrics->transfer_started(metered.link, metered.direction, metered.started_ns);
  }

  void count_ended(StepId id, const Step& step) {
    const Metered& metered = metered_[id];
    const uint64_t bytes = step.kind == StepKind::kSend ? metered.bytes : completions_[id].received_bytes;
    op_->metrics->transfer_ended(metered.link, metered.direction, bytes, metered.started_ns, telemetry::now_ns());
  }

  bool is_far(int peer) const { return op_->far_traffic && (*op_->far_traffic->far)[static_cast<size_t>(peer)]; }

  void note_far_receive(uint64_t bytes) {
    op_->far_traffic->bytes += bytes;
    op_->far_traffic->last_receive = Clock::now();
  }

  void copy(const Step& step) {
    std::byte* dst = address(step.dst);
    const std::byte* src = address(step.src);
    if (dst != src && step.dst.bytes > 0) std::memmove(dst, src, step.dst.bytes);
  }

  uint64_t elements(const Region& region) const {
    return region.bytes / datatype_size(op_->schedule->request.dtype);
  }

  void reduce(const Region& dst, const Region& a, const std::byte* b) {
    const auto& request = op_->schedule->request;
    host_reduce(request.dtype, request.op, address(dst), address(a), b, elements(dst));
  }

  void reduce_view(StepId id) {
    const Step& step = (*steps_)[id];
    Completion& done = completions_[id];
    reduce(step.dst, step.src, done.view);
    op_->transport->release_view(op_->transport_rank_of[step.peer], &done);
  }

  void complete(StepId id) {
    ++finished_;
    const auto& offsets = op_->schedule->dependents_offsets;
    for (uint32_t i = offsets[id]; i < offsets[id + 1]; ++i) {
      const StepId next = op_->schedule->dependents[i];
      if (--pending_[next] == 0) ready_.push_back(next);
    }
  }

  [[noreturn]] void fail_transfer(StepId id) {
    const Step& step = (*steps_)[id];
    const std::string what = completions_[id].error;
    // A peer found gone by the transport that reaches it (shared memory
    // sees a death on this host) is reported to the others before the cancels.
    if (step.peer >= 0 && !op_->tag.point_to_point) {
      const int peer = op_->transport_rank_of[step.peer];
      if (const std::string gone = op_->transport->peer_failure(peer); !gone.empty()) {
        op_->transport->report_failure(peer, gone);
      }
    }
    in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), id));
    if (op_->metrics) op_->metrics->transfer_failed(metered_[id].link, metered_[id].direction, telemetry::now_ns());
    cancel_in_flight();
    fail(ErrorCode::kRemote,
         {op_->rank, step.peer, std::string(collectives::collective_name(op_->schedule->request.collective))},
         "{} of {} bytes failed: {}", collectives::step_kind_name(step.kind),
         step.kind == StepKind::kSend ? step.src.bytes : step.dst.bytes, what);
  }

  BoundOperation* op_ = nullptr;
  const std::vector<Step>* steps_ = nullptr;
  std::vector<uint32_t> pending_;
  std::unique_ptr<Completion[]> completions_;
  size_t completion_capacity_ = 0;
  std::vector<StepId> ready_;
  std::vector<StepId> in_flight_;
  size_t finished_ = 0;
  struct Metered {
    uint32_t link = 0;
    telemetry::Direction direction = telemetry::kSend;
    uint64_t bytes = 0;
    int64_t started_ns = 0;
  };
  std::vector<Metered> metered_;  // per step, with telemetry
};

using Runs = std::span<std::unique_ptr<OperationRun>>;

void cancel_all(Runs runs) {
  for (auto& run : runs) run->cancel_in_flight();
}

constexpr auto kMemberCheckInterval = std::chrono::milliseconds(10);

// Raises kAborted, kRemote (a member is gone) or kTimeout when it is time to
// give up. Members are looked at every kMemberCheckInterval.
void check_limits(Runs runs, Clock::time_point deadline, const ExecutionLimits& limits,
                  Clock::time_point& next_member_check) {
  for (auto& run : runs) {
    if (run->aborted()) {
      cancel_all(runs);
      fail(ErrorCode::kAborted, {run->rank(), -1, "collective"}, "the communicator was aborted");
    }
  }
  if (const auto now = Clock::now(); now >= next_member_check) {
    next_member_check = now + kMemberCheckInterval;
    std::string why;
    for (auto& run : runs) {
      if (const int member = run->gone_member(why); member >= 0) {
        run->report_gone(member, why);  // before the cancels: they close connections
        cancel_all(runs);
        fail(ErrorCode::kRemote, {run->rank(), member, "collective"},
             "rank {} of this communicator is gone, so the collective cannot complete ({})", member, why);
      }
    }
  }
  if (Clock::now() > deadline) {
    std::vector<int> receives, sends;
    for (auto& run : runs) run->add_waits(receives, sends);
    cancel_all(runs);
    std::sort(receives.begin(), receives.end());
    std::sort(sends.begin(), sends.end());
    std::string waits;
    if (!receives.empty()) waits += fmt::format("; still waiting to receive from rank(s) {}", fmt::join(receives, ", "));
    if (!sends.empty()) waits += fmt::format("; sends to rank(s) {} not taken", fmt::join(sends, ", "));
    const int peer = !receives.empty() ? receives.front() : !sends.empty() ? sends.front() : -1;
    fail(ErrorCode::kTimeout, {runs.front()->rank(), peer, "collective"},
         "operation did not complete within STRATA_TIMEOUT={}s{} (a peer may have failed or not called it)",
         limits.timeout_s, waits);
  }
}

// Per thread, so that concurrent calls on different communicators share nothing.
thread_local std::vector<std::unique_ptr<OperationRun>> t_runs;
thread_local std::vector<Transport*> t_transports;

void drive(Runs runs, std::span<Transport* const> transports, const ExecutionLimits& limits) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limits.timeout_s));
  auto last_activity = start;
  auto next_member_check = start + kMemberCheckInterval;
  uint64_t busy_iterations = 0;
  for (;;) {
    bool active = false, all_done = true;
    for (auto& run : runs) {
      active |= run->start_ready();
      active |= run->collect();
      all_done &= run->done();
    }
    if (all_done) return;
    for (Transport* transport : transports) active |= transport->progress();
    // Also check now and then while busy: a transport that keeps reporting
    // activity (keepalives, a peer's retries) must not defer a timeout or abort.
    if (!active || ++busy_iterations % 4096 == 0) check_limits(runs, deadline, limits, next_member_check);
    if (active) {
      last_activity = Clock::now();
      continue;
    }
    const auto idle = Clock::now() - last_activity;
    if (idle < std::chrono::microseconds(limits.spin_us)) continue;
    // More ranks than cores: a peer we wait for may be waiting for our core.
    // Yielding hands it over at once; sleeping would add a wake-up latency
    // (tens of microseconds) to every step.
    if (idle < std::chrono::microseconds(limits.spin_us + limits.yield_us)) {
      sched_yield();
      continue;
    }
    // Sleep in the kernel until a transport has something; a short cap keeps
    // aborts responsive. A group over several communicators sleeps on all
    // their transports at once.
    wait_for_any(transports, std::chrono::milliseconds(1));
  }
}

}  // namespace

void execute(std::span<BoundOperation> operations, const ExecutionLimits& limits) {
  while (t_runs.size() < operations.size()) t_runs.push_back(std::make_unique<OperationRun>());
  const Runs runs(t_runs.data(), operations.size());
  std::vector<Transport*>& transports = t_transports;
  transports.clear();
  for (size_t i = 0; i < operations.size(); ++i) {
    runs[i]->reset(operations[i]);
    if (std::find(transports.begin(), transports.end(), operations[i].transport) == transports.end())
      transports.push_back(operations[i].transport);
  }
  try {
    drive(runs, transports, limits);
  } catch (...) {
    // Whichever operation failed, the others' transfers are still posted into
    // buffers the caller may free once this throws.
    cancel_all(runs);
    throw;
  }
}

}  // namespace strata::runtime
