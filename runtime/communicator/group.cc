// Groups and the path every operation takes to the executor: plan (cached),
// number its messages, bind memory, run, and record failures on the
// communicators involved.
#include <algorithm>
#include <bit>

#include <fmt/ranges.h>

#include "collectives/planner.h"
#include "common/host_reduce.h"
#include "common/log.h"
#include "runtime/communicator/communicator_impl.h"
#include "runtime/config/config.h"

namespace strata::runtime {

using collectives::Collective;

namespace {

struct GroupState {
  int depth = 0;
  std::vector<PendingOperation> queued;
};
thread_local GroupState t_group;

// Arenas only grow, to powers of two, and hold nothing between operations;
// a node-shared one is replaced only once every earlier operation of the
// communicator has ended, so no peer still reads the old one.
std::byte* arena(Communicator::Impl& impl, size_t index, uint64_t bytes) {
  if (impl.arenas.size() <= index) impl.arenas.resize(index + 1);
  auto& memory = impl.arenas[index];
  if (!memory || memory->size() < bytes)
    memory = std::make_unique<HostBuffer>(std::bit_ceil(std::max<uint64_t>(bytes, 4096)), impl.node_shared_arenas);
  return memory->data();
}

// The sequence number that keeps this operation's tags apart from others.
WireTag tag_for(Communicator::Impl& impl, const collectives::CollectiveRequest& request) {
  switch (request.collective) {
    case Collective::kSend: return {impl.comm_id, true, impl.sends_to[request.root]++};
    case Collective::kRecv: return {impl.comm_id, true, impl.receives_from[request.root]++};
    default: return {impl.comm_id, false, impl.collective_sequence++};
  }
}

std::string forced_algorithm(const Operation& op) {
  if (!op.algorithm.empty()) return op.algorithm;
  return collectives::forced_algorithm_for(config().algo, op.request.collective);
}

// For floating types the finish scales each contribution before the sum
// (finish_before_sum): takes it off the request, which then runs a plain sum
// from a scaled copy of the input, so no longer in place.
Finish take_prescale(collectives::CollectiveRequest& request) {
  if (request.op != ReduceOp::kSum || !finish_before_sum(request.dtype, request.finish)) return {};
  const Finish prescale = request.finish;
  request.finish = {};
  request.in_place = false;
  return prescale;
}

}  // namespace

class GroupRunner {
 public:
  // `alone`: the only operation of its group, so its timing is its own.
  static BoundOperation bind(PendingOperation& pending, size_t arena_index, bool alone) {
    Communicator& comm = *pending.communicator;
    Communicator::Impl& impl = comm.impl();
    Operation& op = pending.operation;
    op.request.segment_bytes = config().chunk_bytes;
    op.request.window = static_cast<uint32_t>(config().window);
    op.request.wan_format = wan_format_for(impl.compression, op.request, impl.network);
    op.request.error_feedback = op.error_feedback != nullptr && compression::is_lossy(op.request.wan_format);
    const Finish prescale = take_prescale(op.request);
    CachedPlan& plan = impl.plans.get(op.request, comm.rank(), impl.network, forced_algorithm(op));
    if (log_level() >= LogLevel::kInfo &&
        impl.logged_choices.emplace(static_cast<int>(op.request.collective), plan.algorithm).second) {
      log(LogLevel::kInfo, "comm '{}' rank {}/{}: {} {} x{} -> {} ({})", comm.name(), comm.rank(), comm.size(),
          collectives::collective_name(op.request.collective), datatype_name(op.request.dtype), op.request.count,
          plan.algorithm, plan.reason);
    }
    const auto& schedule = *plan.schedule;
    const uint64_t scaled_bytes = prescale.kind == FinishKind::kNone ? 0 : op.request.send_buffer_bytes();
    std::byte* memory = arena(impl, arena_index, schedule.scratch_bytes + schedule.staging_bytes + scaled_bytes);
    if (scaled_bytes > 0) {
      // This rank's contribution, scaled, is what the schedule sums.
      std::byte* scaled = memory + schedule.scratch_bytes + schedule.staging_bytes;
      host_finish_copy(op.request.dtype, prescale, scaled, op.send, scaled_bytes / datatype_size(op.request.dtype));
      op.send = scaled;
    }
    BoundOperation bound;
    bound.schedule = plan.schedule.get();
    // Bound on every rank, so that a state of the wrong shape fails
    // everywhere alike, also where this rank's part encodes nothing.
    std::byte* feedback = nullptr;
    if (op.request.error_feedback)
      feedback = reinterpret_cast<std::byte*>(op.error_feedback->bind(&comm, op.request.count, comm.rank()));
    bound.buffers = {static_cast<std::byte*>(const_cast<void*>(op.send)), static_cast<std::byte*>(op.recv), memory,
                     feedback};
    bound.staging = memory + schedule.scratch_bytes;
    bound.finish = op.request.finish;
    bound.transport = impl.transport.get();
    bound.transport_rank_of = impl.transport_rank_of.data();
    bound.tag = tag_for(impl, op.request);
    const bool has_peer = op.request.collective == Collective::kSend || op.request.collective == Collective::kRecv ||
                          op.request.collective == Collective::kBroadcast ||
                          op.request.collective == Collective::kReduce ||
                          op.request.collective == Collective::kGather || op.request.collective == Collective::kScatter;
    pending.record = impl.recorder->start(bound.tag.sequence, collectives::collective_name(op.request.collective).data(),
                                          op.request.count, op.request.dtype, has_peer ? op.request.root : -1,
                                          plan.algorithm);
    bound.aborted = &comm.aborted_;
    bound.rank = comm.rank();
    bound.nranks = comm.size();
    if (alone) {
      bound.far_traffic = impl.rails.meter(op.request, plan.algorithm);
      bound.site_flows = impl.adapter.meter(op.request, plan.algorithm);
    }
    if (impl.metrics) {
      bound.metrics = impl.metrics.get();
      pending.algorithm = plan.algorithm;
    }
    return bound;
  }

  // After a metered operation: when the ranks are due, gathers every rank's
  // rail measurement and re-plans if the rail weights changed.
  static void balance_rails(Communicator& comm) {
    Communicator::Impl& impl = comm.impl();
    if (!impl.rails.record()) return;
    const double mine = impl.rails.rate();
    std::vector<double> rates(static_cast<size_t>(comm.size()));
    comm.all_gather(&mine, rates.data(), 1, DataType::kFloat64);
    const bool changed = impl.rails.apply(impl.network, rates);
    if (changed) impl.plans.clear();
    if (log_level() >= LogLevel::kInfo) {
      std::vector<double> mbps;
      for (double rate : rates) mbps.push_back(rate / 1e6);
      log(LogLevel::kInfo, "comm '{}' rank {}/{}: rail rates per rank [{:.1f}] MB/s; rail weights {}[{}] (equal when empty)",
          comm.name(), comm.rank(), comm.size(), fmt::join(mbps, ", "), changed ? "now " : "",
          fmt::join(impl.network.rail_weights, ", "));
    }
  }

  // After a metered operation: when the ranks are due, gathers every rank's
  // link measurements and re-plans where the live model moved.
  static void adapt_links(Communicator& comm) {
    Communicator::Impl& impl = comm.impl();
    if (!impl.adapter.record()) return;
    const std::vector<double> mine = impl.adapter.sample();
    std::vector<double> all(mine.size() * static_cast<size_t>(comm.size()));
    comm.all_gather(mine.data(), all.data(), mine.size(), DataType::kFloat64);
    const std::vector<std::string> changes = impl.adapter.apply(impl.network, all);
    if (changes.empty()) return;
    impl.plans.clear();
    if (impl.metrics) impl.metrics->model_changed(impl.network);
    log(LogLevel::kInfo, "comm '{}' rank {}/{}: live link model: {}; re-planning", comm.name(), comm.rank(),
        comm.size(), fmt::join(changes, ", "));
  }

  static void record(Communicator& comm, const Error& error) {
    std::lock_guard lock(comm.error_mutex_);
    if (!comm.async_error_) comm.async_error_ = error;
    comm.impl().failed.store(true, std::memory_order_release);  // after the error, which run() then reads
  }
};

namespace {

// Ends the flight records of the first `bound` operations. After a failure
// (not a bad argument) each communicator's record goes to stderr, so that a
// timeout shows what ran before it and which ranks did not arrive.
void finish_records(std::span<PendingOperation> operations, size_t bound, const Error* error, int64_t started_ns) {
  const int64_t now = started_ns > 0 ? telemetry::now_ns() : 0;
  for (size_t i = 0; i < bound; ++i) {
    Communicator::Impl& impl = operations[i].communicator->impl();
    impl.recorder->finish(operations[i].record, error ? error->what() : nullptr);
    const collectives::CollectiveRequest& request = operations[i].operation.request;
    if (impl.metrics && started_ns > 0)
      impl.metrics->collective_ended(collectives::collective_name(request.collective), operations[i].algorithm,
                                     request.send_buffer_bytes(), started_ns, now, error == nullptr);
  }
  if (error == nullptr || error->code() == ErrorCode::kInvalidArgument || error->code() == ErrorCode::kAborted) return;
  std::vector<const Communicator*> dumped;
  for (size_t i = 0; i < bound; ++i) {
    const Communicator* comm = operations[i].communicator;
    if (std::find(dumped.begin(), dumped.end(), comm) != dumped.end()) continue;
    dumped.push_back(comm);
    const FlightRecorder& recorder = *operations[i].communicator->impl().recorder;
    if (!recorder.enabled()) continue;
    std::string text = recorder.dump();
    text.pop_back();  // the log line ends it
    log(LogLevel::kWarn, "{}", text);
  }
}

}  // namespace

void run_together(std::span<PendingOperation> operations) {
  if (operations.empty()) return;
  // Reused per thread: a lone small operation should not allocate.
  thread_local std::vector<BoundOperation> bound;
  thread_local std::vector<std::pair<Communicator*, size_t>> arenas_used;
  bound.clear();
  arenas_used.clear();
  ExecutionLimits limits = operations.front().communicator->impl().limits;
  try {
    for (PendingOperation& pending : operations) {
      auto used = std::find_if(arenas_used.begin(), arenas_used.end(),
                               [&](const auto& entry) { return entry.first == pending.communicator; });
      if (used == arenas_used.end()) used = arenas_used.insert(arenas_used.end(), {pending.communicator, 0});
      bound.push_back(GroupRunner::bind(pending, used->second++, operations.size() == 1));
      limits.spin_us = std::min(limits.spin_us, pending.communicator->impl().limits.spin_us);
      limits.yield_us = std::min(limits.yield_us, pending.communicator->impl().limits.yield_us);
    }
  } catch (const Error& error) {
    finish_records(operations, bound.size(), &error, 0);  // those already started
    throw;
  }
  const int64_t started_ns = operations.front().communicator->impl().metrics ? telemetry::now_ns() : 0;
  if (started_ns > 0)
    for (auto& [comm, unused] : arenas_used)
      if (comm->impl().metrics) comm->impl().metrics->collective_started(started_ns);
  try {
    execute(bound, limits);
  } catch (const Error& error) {
    // A failed or timed-out transfer leaves the communicator unusable, as in
    // NCCL: report it through async_error as well as the throw.
    if (error.code() != ErrorCode::kInvalidArgument)
      for (auto& [comm, unused] : arenas_used) GroupRunner::record(*comm, error);
    finish_records(operations, bound.size(), &error, started_ns);
    throw;
  }
  finish_records(operations, bound.size(), nullptr, started_ns);
  if (bound.size() == 1 && bound.front().far_traffic) GroupRunner::balance_rails(*operations.front().communicator);
  if (bound.size() == 1 && bound.front().site_flows) GroupRunner::adapt_links(*operations.front().communicator);
}

void queue_in_group(PendingOperation operation) { t_group.queued.push_back(std::move(operation)); }

void group_start() { ++t_group.depth; }

void group_end() {
  if (t_group.depth == 0)
    fail(ErrorCode::kInvalidUsage, {-1, -1, "group_end"}, "group end without a matching group start");
  if (--t_group.depth > 0) return;
  std::vector<PendingOperation> operations = std::move(t_group.queued);
  t_group.queued.clear();
  run_together(operations);
}

double group_end_simulated() {
  if (t_group.depth == 0)
    fail(ErrorCode::kInvalidUsage, {-1, -1, "group_end"}, "group end without a matching group start");
  if (--t_group.depth > 0) return 0;
  std::vector<PendingOperation> operations = std::move(t_group.queued);
  t_group.queued.clear();
  // Operations on one communicator run one after another; communicators
  // run side by side.
  std::vector<std::pair<const Communicator*, double>> per_comm;
  for (const PendingOperation& pending : operations) {
    auto entry = std::find_if(per_comm.begin(), per_comm.end(),
                              [&](const auto& e) { return e.first == pending.communicator; });
    if (entry == per_comm.end()) entry = per_comm.insert(per_comm.end(), {pending.communicator, 0.0});
    entry->second += pending.communicator->plan(pending.operation).predicted_seconds;
  }
  double longest = 0;
  for (const auto& [comm, seconds] : per_comm) longest = std::max(longest, seconds);
  return longest;
}

int group_depth() { return t_group.depth; }

}  // namespace strata::runtime
