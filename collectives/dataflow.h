// A schedule builder that derives dependencies from the regions a step
// touches: a step waits for the last step that wrote any byte it reads or
// writes, and a write also waits for every read since that write. Phases of
// hierarchical algorithms compose through it without tracking which earlier
// phase touched which bytes; the executor still sees plain step lists.
#pragma once

#include <array>
#include <map>
#include <vector>

#include "collectives/schedule.h"

namespace strata::collectives {

class DataflowBuilder {
 public:
  DataflowBuilder(const CollectiveRequest& request, int rank);

  int rank() const { return builder_.rank(); }
  const CollectiveRequest& request() const { return builder_.request(); }
  Region region(uint32_t buffer, uint64_t element_offset, uint64_t element_count) const {
    return builder_.region(buffer, element_offset, element_count);
  }
  void reserve_scratch(uint64_t element_count) { builder_.reserve_scratch(element_count); }

  StepId send(int peer, Region src);
  StepId recv(int peer, Region dst);
  StepId recv_reduce(int peer, Region dst, Region local);
  StepId reduce(Region dst, Region a, Region b);
  StepId copy(Region dst, Region src);
  // Compressed transfers (ScheduleBuilder::encode and friends). `feedback`
  // is read and written; pass an empty region for none.
  StepId encode(Region dst, Region src, Region feedback);
  StepId decode(Region dst, Region src);
  StepId send_encoded(int peer, Region src);
  StepId recv_encoded(int peer, Region dst);
  void reserve_scratch_bytes(uint64_t bytes) { builder_.reserve_scratch_bytes(bytes); }
  void reserve_feedback(uint64_t element_count) { builder_.reserve_feedback(element_count); }
  // Applies the request's Finish (average, pre-multiplied sum) to `dst`, if any.
  void finish(Region dst);
  // An ordering the regions do not imply (e.g. an in-flight window).
  void add_dependency(StepId step, StepId on) { builder_.add_dependency(step, on); }

  RankSchedule take() { return builder_.take(); }

 private:
  struct Access {
    uint64_t end = 0;
    StepId writer = kNoStep;
    std::vector<StepId> readers;  // since the writer
  };
  using Track = std::map<uint64_t, Access>;  // disjoint [start, end) records

  // Where a region's bytes live: in-place collectives alias the send and
  // receive buffers, so both are tracked in one buffer's coordinates.
  Region canonical(Region region) const;
  // Splits and fills records so that [begin, end) is tiled exactly.
  Track::iterator cover(Track& track, uint64_t begin, uint64_t end);
  void gather_hazards(Region region, bool write, std::vector<StepId>& deps);
  void record(Region region, bool write, StepId step);
  StepId add(StepId step, std::initializer_list<Region> reads, std::initializer_list<Region> writes);

  ScheduleBuilder builder_;
  std::array<Track, kBufferCount> tracks_;
};

}  // namespace strata::collectives
