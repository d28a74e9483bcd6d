#include "collectives/schedule.h"

#include <fmt/format.h>

#include <array>
#include <map>

#include "common/error.h"

namespace strata::collectives {

std::string_view step_kind_name(StepKind kind) {
  static constexpr std::array<std::string_view, 8> kNames{"send", "recv",   "recv_reduce", "reduce",
                                                          "copy", "finish", "encode",      "decode"};
  return kNames[static_cast<int>(kind)];
}

namespace {

bool reads_src(StepKind kind) {
  return kind == StepKind::kSend || kind == StepKind::kRecvReduce || kind == StepKind::kReduce ||
         kind == StepKind::kCopy || kind == StepKind::kEncode || kind == StepKind::kDecode;
}
bool writes_dst(StepKind kind) { return kind != StepKind::kSend; }
bool is_transfer(StepKind kind) {
  return kind == StepKind::kSend || kind == StepKind::kRecv || kind == StepKind::kRecvReduce;
}

void check_region(const RankSchedule& schedule, StepId id, const Region& region, const char* which) {
  if (region.buffer >= kBufferCount)
    fail(ErrorCode::kInternal, {schedule.rank, -1, "schedule"}, "step {} {}: buffer {} out of range", id,
         which, region.buffer);
  if (region.buffer == kScratchBuffer && region.offset + region.bytes > schedule.scratch_bytes)
    fail(ErrorCode::kInternal, {schedule.rank, -1, "schedule"},
         "step {} {}: scratch [{}, +{}) exceeds the {} reserved bytes", id, which, region.offset,
         region.bytes, schedule.scratch_bytes);
  if (region.buffer == kFeedbackBuffer && region.offset + region.bytes > schedule.feedback_bytes)
    fail(ErrorCode::kInternal, {schedule.rank, -1, "schedule"},
         "step {} {}: feedback [{}, +{}) exceeds the {} reserved bytes", id, which, region.offset, region.bytes,
         schedule.feedback_bytes);
}

std::string region_text(const Region& region) {
  static constexpr std::array<std::string_view, kBufferCount> kNames{"send", "recv", "scratch", "feedback"};
  return fmt::format("{}[{}+{}]", kNames[region.buffer], region.offset, region.bytes);
}

}  // namespace

void RankSchedule::finalize() {
  const size_t n = steps.size();
  dependency_counts.assign(n, 0);
  dependents_offsets.assign(n + 1, 0);
  std::map<int, uint32_t> sends_to, recvs_from;
  staging_bytes = 0;
  for (StepId id = 0; id < n; ++id) {
    Step& step = steps[id];
    if (writes_dst(step.kind)) check_region(*this, id, step.dst, "dst");
    if (reads_src(step.kind)) check_region(*this, id, step.src, "src");
    if (step.kind == StepKind::kReduce || step.kind == StepKind::kEncode) check_region(*this, id, step.src2, "src2");
    if ((step.kind == StepKind::kEncode || step.kind == StepKind::kDecode) && request.wan_format == compression::Format::kNone)
      fail(ErrorCode::kInternal, {rank, -1, "schedule"}, "step {}: {} without a wire format", id, step_kind_name(step.kind));
    // A peer may be this rank itself only for Send/Recv (NCCL allows a rank
    // to send to itself in a group); collectives never need that.
    const bool self_allowed = request.collective == Collective::kSend || request.collective == Collective::kRecv;
    if (is_transfer(step.kind) &&
        (step.peer < 0 || step.peer >= request.nranks || (step.peer == rank && !self_allowed)))
      fail(ErrorCode::kInternal, {rank, step.peer, "schedule"}, "step {}: bad peer", id);
    for (StepId dep : step.deps) {
      if (dep >= id)
        fail(ErrorCode::kInternal, {rank, -1, "schedule"}, "step {} depends on later step {}", id, dep);
      ++dependents_offsets[dep + 1];
    }
    dependency_counts[id] = static_cast<uint32_t>(step.deps.size());
    if (step.kind == StepKind::kSend) step.message_index = sends_to[step.peer]++;
    if (step.kind == StepKind::kRecv || step.kind == StepKind::kRecvReduce)
      step.message_index = recvs_from[step.peer]++;
    if (is_transfer(step.kind) && step.message_index >= kMaxMessagesPerPair)
      fail(ErrorCode::kInvalidArgument, {rank, step.peer, "schedule"},
           "{} needs more than {} messages between rank {} and rank {} ({} bytes each): the pipelining chunk is "
           "too small for the message size; raise STRATA_CHUNK",
           collective_name(request.collective), kMaxMessagesPerPair, rank, step.peer, step.src.bytes + step.dst.bytes);
  }
  assign_staging();
  for (size_t i = 0; i < n; ++i) dependents_offsets[i + 1] += dependents_offsets[i];
  dependents.assign(dependents_offsets[n], 0);
  std::vector<uint32_t> fill(dependents_offsets.begin(), dependents_offsets.end() - 1);
  for (StepId id = 0; id < n; ++id)
    for (StepId dep : steps[id].deps) dependents[fill[dep]++] = id;
}

// A recv_reduce's message lands in a staging area of its own while it is in
// flight. One that depends on an earlier recv_reduce takes over that step's
// area, free once its reduce ran: an algorithm that chains its receives
// (each waits for the one a few segments back) reuses a few cache-resident
// areas instead of writing a fresh one per segment to memory.
void RankSchedule::assign_staging() {
  struct Area {
    uint64_t offset = 0, bytes = 0;
    bool handed_on = false;
  };
  std::vector<Area> areas(steps.size());
  staging_bytes = 0;
  for (StepId id = 0; id < steps.size(); ++id) {
    Step& step = steps[id];
    if (step.kind != StepKind::kRecvReduce) continue;
    Area* reused = nullptr;
    for (StepId dep : step.deps) {
      Area& area = areas[dep];
      if (steps[dep].kind == StepKind::kRecvReduce && !area.handed_on && area.bytes >= step.dst.bytes) {
        reused = &area;
        break;
      }
    }
    if (reused != nullptr) {
      reused->handed_on = true;
      areas[id] = {reused->offset, reused->bytes};
    } else {
      areas[id] = {staging_bytes, (step.dst.bytes + 63) & ~uint64_t{63}};
      staging_bytes += areas[id].bytes;
    }
    step.staging_offset = areas[id].offset;
  }
}

std::string RankSchedule::describe() const {
  std::string text = fmt::format("rank {} of {}: {} {} x{} scratch={}B\n", rank, request.nranks,
                                 collective_name(request.collective), datatype_name(request.dtype),
                                 request.count, scratch_bytes);
  for (StepId id = 0; id < steps.size(); ++id) {
    const Step& step = steps[id];
    text += fmt::format("  {:4} {:<11}", id, step_kind_name(step.kind));
    if (step.peer >= 0) text += fmt::format(" peer={}", step.peer);
    if (writes_dst(step.kind)) text += " dst=" + region_text(step.dst);
    if (reads_src(step.kind)) text += " src=" + region_text(step.src);
    if (step.kind == StepKind::kReduce || (step.kind == StepKind::kEncode && step.src2.bytes > 0))
      text += " src2=" + region_text(step.src2);
    if (step.encoded) text += " encoded";
    if (!step.deps.empty()) text += fmt::format(" after {}", fmt::join(step.deps, ","));
    text += "\n";
  }
  return text;
}

ScheduleBuilder::ScheduleBuilder(const CollectiveRequest& request, int rank)
    : element_size_(datatype_size(request.dtype)) {
  schedule_.rank = rank;
  schedule_.request = request;
}

Region ScheduleBuilder::region(uint32_t buffer, uint64_t element_offset, uint64_t element_count) const {
  return {buffer, element_offset * element_size_, element_count * element_size_};
}

void ScheduleBuilder::reserve_scratch(uint64_t element_count) {
  schedule_.scratch_bytes = std::max(schedule_.scratch_bytes, element_count * element_size_);
}

void ScheduleBuilder::reserve_scratch_bytes(uint64_t bytes) {
  schedule_.scratch_bytes = std::max(schedule_.scratch_bytes, bytes);
}

void ScheduleBuilder::reserve_feedback(uint64_t element_count) {
  schedule_.feedback_bytes = std::max(schedule_.feedback_bytes, element_count * element_size_);
}

StepId ScheduleBuilder::add(Step step, std::initializer_list<StepId> deps) {
  for (StepId dep : deps)
    if (dep != kNoStep) step.deps.push_back(dep);
  schedule_.steps.push_back(std::move(step));
  return static_cast<StepId>(schedule_.steps.size() - 1);
}

StepId ScheduleBuilder::send(int peer, Region src, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kSend, .peer = peer, .src = src}, deps);
}
StepId ScheduleBuilder::recv(int peer, Region dst, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kRecv, .peer = peer, .dst = dst}, deps);
}
StepId ScheduleBuilder::recv_reduce(int peer, Region dst, Region local, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kRecvReduce, .peer = peer, .dst = dst, .src = local}, deps);
}
StepId ScheduleBuilder::reduce(Region dst, Region a, Region b, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kReduce, .dst = dst, .src = a, .src2 = b}, deps);
}
StepId ScheduleBuilder::copy(Region dst, Region src, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kCopy, .dst = dst, .src = src}, deps);
}
StepId ScheduleBuilder::finish(Region dst, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kFinish, .dst = dst}, deps);
}

StepId ScheduleBuilder::encode(Region dst, Region src, Region feedback, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kEncode, .dst = dst, .src = src, .src2 = feedback}, deps);
}
StepId ScheduleBuilder::decode(Region dst, Region src, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kDecode, .dst = dst, .src = src}, deps);
}
StepId ScheduleBuilder::send_encoded(int peer, Region src, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kSend, .peer = peer, .src = src, .encoded = true}, deps);
}
StepId ScheduleBuilder::recv_encoded(int peer, Region dst, std::initializer_list<StepId> deps) {
  return add({.kind = StepKind::kRecv, .peer = peer, .dst = dst, .encoded = true}, deps);
}

void ScheduleBuilder::add_dependency(StepId step, StepId on) {
  if (on != kNoStep) schedule_.steps.at(step).deps.push_back(on);
}

void ScheduleBuilder::finish_after_all(Region dst) {
  if (schedule_.request.finish.kind == FinishKind::kNone) return;
  Step step{.kind = StepKind::kFinish, .dst = dst};
  for (StepId id = 0; id < schedule_.steps.size(); ++id) step.deps.push_back(id);
  schedule_.steps.push_back(std::move(step));
}

RankSchedule ScheduleBuilder::take() {
  schedule_.finalize();
  return std::move(schedule_);
}

StepId WindowedRecvReduce::recv_reduce(int peer, Region dst, Region local, std::initializer_list<StepId> deps) {
  const StepId id = builder_.recv_reduce(peer, dst, local, deps);
  posted_.admit(builder_, id);
  return id;
}

uint64_t segment_count(uint64_t bytes, uint64_t segment_bytes, uint64_t max_segments) {
  if (bytes == 0 || segment_bytes == 0) return 1;
  const uint64_t wanted = (bytes + segment_bytes - 1) / segment_bytes;
  return std::clamp<uint64_t>(wanted, 1, std::max<uint64_t>(max_segments, 1));
}

}  // namespace strata::collectives
