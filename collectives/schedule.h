// A schedule is what an algorithm emits for one rank: steps over regions of
// numbered buffers, with dependencies. It names no transport, thread or
// stream; the runtime's executor runs it, tests run it in one process, and a
// simulator can time it on a modelled network.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "collectives/request.h"

namespace strata::collectives {

// Buffer numbering inside one schedule.
// kFeedbackBuffer: the caller's error-feedback state of a compressed call
// (float residuals, feedback_bytes of them), kept from call to call.
enum BufferIndex : uint32_t { kSendBuffer = 0, kRecvBuffer = 1, kScratchBuffer = 2, kFeedbackBuffer = 3 };
inline constexpr uint32_t kBufferCount = 4;

struct Region {
  uint32_t buffer = kSendBuffer;
  uint64_t offset = 0;  // bytes
  uint64_t bytes = 0;
  bool operator==(const Region&) const = default;
};

enum class StepKind : uint8_t {
  kSend,        // send `src` to `peer`
  kRecv,        // receive from `peer` into `dst`
  kRecvReduce,  // receive from `peer`; dst = src (op) message
  kReduce,      // dst = src (op) src2
  kCopy,        // dst = src
  kFinish,      // apply the request's Finish to dst in place
  kEncode,      // dst = request.wan_format encoding of src (floats); src2: feedback residuals or empty
  kDecode,      // dst (floats) = decoding of the message in src
};
std::string_view step_kind_name(StepKind kind);

// Each pair of ranks exchanges at most this many messages per operation: the
// message index has 18 bits in the wire tag (runtime/engine/wire_tag.h).
inline constexpr uint64_t kMaxMessagesPerPair = uint64_t{1} << 17;

using StepId = uint32_t;
inline constexpr StepId kNoStep = UINT32_MAX;

struct Step {
  StepKind kind = StepKind::kCopy;
  int32_t peer = -1;  // rank within the request's group, for send/recv
  Region dst{};
  Region src{};
  Region src2{};
  std::vector<StepId> deps;  // earlier steps that must finish first
  // kSend: src holds an encoded message, of which only its own length goes;
  // kRecv: dst receives one, whose length is checked on arrival.
  bool encoded = false;

  // Filled by RankSchedule::finalize().
  uint32_t message_index = 0;   // n-th message this rank sends to / receives from `peer`
  uint64_t staging_offset = 0;  // kRecvReduce: where the message lands before reducing
};

struct RankSchedule {
  int rank = 0;
  CollectiveRequest request{};
  uint64_t scratch_bytes = 0;
  uint64_t feedback_bytes = 0;  // the error-feedback state it needs (0: none)
  std::vector<Step> steps;

  // Derived by finalize(): the executor's view.
  std::vector<uint32_t> dependency_counts;   // per step
  std::vector<uint32_t> dependents_offsets;  // CSR: dependents of step i are
  std::vector<StepId> dependents;            //   dependents[offsets[i] .. offsets[i+1])
  uint64_t staging_bytes = 0;

  // Validates the steps and derives the fields above. Throws Error(kInternal)
  // naming the step if a dependency points forward or a region is malformed.
  void finalize();

  std::string describe() const;  // one line per step, for STRATA_DEBUG=TRACE and tests

 private:
  void assign_staging();
};

// Helps algorithms emit steps in element units.
class ScheduleBuilder {
 public:
  ScheduleBuilder(const CollectiveRequest& request, int rank);

  int rank() const { return schedule_.rank; }
  int nranks() const { return schedule_.request.nranks; }
  const CollectiveRequest& request() const { return schedule_.request; }

  Region region(uint32_t buffer, uint64_t element_offset, uint64_t element_count) const;
  Region send_region(uint64_t offset, uint64_t count) const { return region(kSendBuffer, offset, count); }
  Region recv_region(uint64_t offset, uint64_t count) const { return region(kRecvBuffer, offset, count); }
  Region scratch_region(uint64_t offset, uint64_t count) const { return region(kScratchBuffer, offset, count); }
  void reserve_scratch(uint64_t element_count);
  void reserve_scratch_bytes(uint64_t bytes);
  void reserve_feedback(uint64_t element_count);

  // Each returns the new step's id. kNoStep entries in deps are ignored.
  StepId send(int peer, Region src, std::initializer_list<StepId> deps = {});
  StepId recv(int peer, Region dst, std::initializer_list<StepId> deps = {});
  StepId recv_reduce(int peer, Region dst, Region local, std::initializer_list<StepId> deps = {});
  StepId reduce(Region dst, Region a, Region b, std::initializer_list<StepId> deps = {});
  StepId copy(Region dst, Region src, std::initializer_list<StepId> deps = {});
  StepId finish(Region dst, std::initializer_list<StepId> deps = {});
  StepId encode(Region dst, Region src, Region feedback, std::initializer_list<StepId> deps = {});
  StepId decode(Region dst, Region src, std::initializer_list<StepId> deps = {});
  // A send or receive of an encoded message (Step::encoded).
  StepId send_encoded(int peer, Region src, std::initializer_list<StepId> deps = {});
  StepId recv_encoded(int peer, Region dst, std::initializer_list<StepId> deps = {});
  void add_dependency(StepId step, StepId on);

  // Appends a kFinish over `dst` after every step so far, when the request
  // has a Finish (average, pre-multiplied sum); otherwise does nothing.
  void finish_after_all(Region dst);

  RankSchedule take();

 private:
  StepId add(Step step, std::initializer_list<StepId> deps);
  RankSchedule schedule_;
  uint64_t element_size_;
};

// At most `window` of a sequence of steps in flight (0: no limit): the k-th
// step admitted waits for the (k - window)-th.
class StepWindow {
 public:
  explicit StepWindow(uint32_t window) : window_(window) {}
  template <class Builder>
  void admit(Builder& builder, StepId id) {
    if (window_ > 0 && admitted_.size() >= window_) builder.add_dependency(id, admitted_[admitted_.size() - window_]);
    admitted_.push_back(id);
  }

 private:
  uint32_t window_;
  std::vector<StepId> admitted_;
};

// recv_reduce steps of which at most `window` are posted at once: the k-th
// waits until the (k - window)-th has been reduced and then lands in that
// one's staging area (RankSchedule::finalize), so staging stays `window`
// cache-resident areas instead of one per segment written out to memory.
class WindowedRecvReduce {
 public:
  WindowedRecvReduce(ScheduleBuilder& builder, uint32_t window) : builder_(builder), posted_(window) {}
  StepId recv_reduce(int peer, Region dst, Region local, std::initializer_list<StepId> deps = {});

 private:
  ScheduleBuilder& builder_;
  StepWindow posted_;
};

// Splits `count` elements into `parts` nearly equal blocks; block i starts
// at block_offset(i) and holds block_count(i) elements.
struct BlockSplit {
  uint64_t count;
  uint64_t parts;
  uint64_t block_offset(uint64_t i) const { return i * (count / parts) + std::min(i, count % parts); }
  uint64_t block_count(uint64_t i) const { return count / parts + (i < count % parts ? 1 : 0); }
};

// How many pipeline segments to cut `bytes` into, given the request's
// segment size (or `default_segment_bytes`), capped at `max_segments`.
uint64_t segment_count(uint64_t bytes, uint64_t segment_bytes, uint64_t max_segments);

}  // namespace strata::collectives
