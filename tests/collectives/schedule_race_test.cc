// A race detector for schedules: every pair of steps of one rank that touch
// the same bytes, at least one of them writing, must be ordered by the
// dependencies (the executor runs anything else in any order, and a
// transport may read a send's bytes long after posting it). Buffers alias
// the way NCCL defines in-place, worked out here independently of the
// DataflowBuilder, so a builder that forgets an aliasing is caught even
// when the loopback run happens to pass. Every algorithm, on flat groups
// and on site shapes, in and out of place.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <array>
#include <vector>

#include "collectives/algorithm.h"

namespace strata::collectives {
namespace {

struct Access {
  uint32_t space;  // 0: the user's memory (send and receive, aliased in place), 1: receive, 2: scratch,
                  // 3: error feedback, 4: staging
  uint64_t begin;
  uint64_t end;
  bool write;
};

// Where a region lies once in-place aliasing is applied: in place, the
// receive buffer of AllGather and Gather holds the send buffer at the
// rank's block, ReduceScatter's and Scatter's send buffer holds the receive
// buffer there, and the others pass one buffer as both.
Access locate(const CollectiveRequest& request, int rank, Region region, bool write) {
  const uint64_t block = request.bytes_per_block() * static_cast<uint64_t>(rank);
  Access access{region.buffer, region.offset, region.offset + region.bytes, write};
  if (region.buffer == kScratchBuffer || !request.in_place) return access;
  switch (request.collective) {
    case Collective::kAllGather:
    case Collective::kGather:  // send = recv + block
      access.space = kRecvBuffer;
      if (region.buffer == kSendBuffer) access.begin += block, access.end += block;
      break;
    case Collective::kReduceScatter:
    case Collective::kScatter:  // recv = send + block
      access.space = kSendBuffer;
      if (region.buffer == kRecvBuffer) access.begin += block, access.end += block;
      break;
    default: access.space = kSendBuffer; break;
  }
  return access;
}

std::vector<Access> accesses(const CollectiveRequest& request, int rank, const Step& step) {
  std::vector<Access> out;
  auto read = [&](Region r) { if (r.bytes) out.push_back(locate(request, rank, r, false)); };
  auto write = [&](Region r) { if (r.bytes) out.push_back(locate(request, rank, r, true)); };
  switch (step.kind) {
    case StepKind::kSend: read(step.src); break;
    case StepKind::kRecv: write(step.dst); break;
    case StepKind::kRecvReduce:  // also lands in and reads its staging area (a space of its own)
      read(step.src), write(step.dst);
      if (step.dst.bytes)
        out.push_back({kBufferCount, step.staging_offset, step.staging_offset + step.dst.bytes, true});
      break;
    case StepKind::kReduce: read(step.src), read(step.src2), write(step.dst); break;
    case StepKind::kCopy: {
      // The executor skips a copy onto itself (in place, a root's input is its output).
      const Access from = locate(request, rank, step.src, false), to = locate(request, rank, step.dst, true);
      if (from.space != to.space || from.begin != to.begin) read(step.src), write(step.dst);
      break;
    }
    case StepKind::kFinish: read(step.dst), write(step.dst); break;
    case StepKind::kEncode: read(step.src), read(step.src2), write(step.dst), write(step.src2); break;
    case StepKind::kDecode: read(step.src), write(step.dst); break;
  }
  return out;
}

// The first unordered conflicting pair of steps, described; empty if none.
std::string find_race(const RankSchedule& schedule) {
  const size_t n = schedule.steps.size();
  std::vector<std::vector<bool>> before(n, std::vector<bool>(n, false));  // before[b][a]: a happens before b
  for (size_t b = 0; b < n; ++b)
    for (StepId dep : schedule.steps[b].deps) {
      before[b][dep] = true;
      for (size_t a = 0; a < dep; ++a)
        if (before[dep][a]) before[b][a] = true;
    }
  std::vector<std::vector<Access>> touched(n);
  for (size_t i = 0; i < n; ++i) touched[i] = accesses(schedule.request, schedule.rank, schedule.steps[i]);
  for (size_t b = 0; b < n; ++b)
    for (size_t a = 0; a < b; ++a) {
      if (before[b][a]) continue;
      for (const Access& x : touched[a])
        for (const Access& y : touched[b])
          if ((x.write || y.write) && x.space == y.space && x.begin < y.end && y.begin < x.end)
            return fmt::format("rank {}: steps {} ({}) and {} ({}) touch bytes [{}, {}) of buffer {} unordered",
                               schedule.rank, a, step_kind_name(schedule.steps[a].kind), b,
                               step_kind_name(schedule.steps[b].kind), std::max(x.begin, y.begin),
                               std::min(x.end, y.end), x.space);
    }
  return {};
}

struct Group {
  const char* name;
  std::vector<int> site_of_rank;  // empty: one site of `ranks`
  int ranks;
  std::vector<int> node_of_rank = {};  // empty: every rank its own node
};

const Group kGroups[] = {
    {"flat1", {}, 1},         {"flat2", {}, 2},           {"flat3", {}, 3},
    {"flat5", {}, 5},         {"2x2", {0, 0, 1, 1}, 4},   {"interleaved", {0, 1, 0, 1, 0}, 5},
    {"3_2_1", {0, 0, 0, 1, 1, 2}, 6},
    {"2x2x2_nodes", {0, 1, 0, 1, 0, 1, 0, 1}, 8, {0, 2, 1, 3, 0, 2, 1, 3}},
};

TEST(ScheduleRaceTest, EveryStepPairTouchingTheSameBytesIsOrdered) {
  const LinkCost wan{10e-3, 125e6, 4e9};
  int checked = 0;
  for (const Group& group : kGroups) {
    Network network = group.site_of_rank.empty() ? Network::uniform() : Network::with_sites(group.site_of_rank, wan);
    if (!group.node_of_rank.empty()) network.node_of_rank = group.node_of_rank;
    for (const Algorithm* algorithm : all_algorithms()) {
      for (uint64_t count : {1, 37, 1001}) {
        for (bool in_place : {false, true}) {
          CollectiveRequest request;
          request.collective = algorithm->collective();
          request.nranks = group.ranks;
          request.count = count;
          request.in_place = in_place;
          request.root = group.ranks - 1;
          request.segment_bytes = 256;  // many segments, so pipelined phases overlap
          request.window = 2;
          if (algorithm->unsupported_on(request, network)) continue;
          // AllReduce also with its inter-site leg encoded, with and without error feedback.
          std::vector<std::pair<compression::Format, bool>> encodings{{compression::Format::kNone, false}};
          if (request.collective == Collective::kAllReduce)
            encodings.insert(encodings.end(), {{compression::Format::kInt8, true}, {compression::Format::kZstd, false}});
          for (const auto& [format, feedback] : encodings) {
            request.wan_format = format;
            request.error_feedback = feedback;
            for (int rank = 0; rank < group.ranks; ++rank) {
              RankSchedule schedule = algorithm->build(request, network, rank);
              const std::string race = find_race(schedule);
              ASSERT_TRUE(race.empty()) << collective_name(algorithm->collective()) << " " << algorithm->name()
                                        << " on " << group.name << " count=" << count
                                        << (in_place ? " in place" : "") << " wire " << compression::format_name(format)
                                        << ": " << race;
              ++checked;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 500);
}

// The detector itself: an in-place send and a receive into the same bytes
// with no dependency between them is a race.
TEST(ScheduleRaceTest, DetectsAnUnorderedInPlaceSendAndReceive) {
  CollectiveRequest request;
  request.collective = Collective::kAllToAll;
  request.nranks = 2;
  request.count = 4;
  request.in_place = true;
  ScheduleBuilder b(request, 0);
  b.send(1, b.send_region(4, 4));
  b.recv(1, b.recv_region(4, 4));
  EXPECT_NE(find_race(b.take()), "");
}

// Two receives in flight at once must not share a landing area.
TEST(ScheduleRaceTest, DetectsUnorderedReceivesSharingStaging) {
  CollectiveRequest request;
  request.nranks = 2;
  request.count = 8;
  ScheduleBuilder b(request, 0);
  b.recv_reduce(1, b.recv_region(0, 4), b.send_region(0, 4));
  b.recv_reduce(1, b.recv_region(4, 4), b.send_region(4, 4));
  RankSchedule schedule = b.take();
  EXPECT_EQ(find_race(schedule), "");
  schedule.steps[1].staging_offset = schedule.steps[0].staging_offset;
  EXPECT_NE(find_race(schedule), "");
}

}  // namespace
}  // namespace strata::collectives
