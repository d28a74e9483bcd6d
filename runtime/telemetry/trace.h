// STRATA_TRACE=file.json: a Chrome/Perfetto trace (the Trace Event Format's
// JSON object form) of this process's collectives and transfers. Each
// communicator gets a track for its collectives and one per link, lane and
// direction, on which each busy period is a slice; each transfer is an
// async slice named after its lane, so that overlapping transfers stack. Timestamps are
// wall-clock microseconds, so that the files of several ranks line up; one
// file per rank ("%r" in the name becomes the rank, else ".rank<R>" goes
// before ".json"), merged by tools/strata-trace-merge.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace strata::runtime::telemetry {

// The file a rank writes for STRATA_TRACE=`pattern`.
std::string trace_path_for(std::string_view pattern, int rank);

class TraceLog {
 public:
  static constexpr size_t kMaxEvents = size_t{1} << 21;

  // The process's trace when STRATA_TRACE names a file, else null.
  static TraceLog* get();

  // Tracks for one communicator: its collectives, then one per name; the
  // first one's id. The process is named after the first caller's rank.
  uint32_t add_tracks(int rank, std::string_view comm_label, const std::vector<std::string>& names);
  // A slice [start, end) on `track` (steady-clock ns); `args` is a JSON
  // object's members without braces, or empty.
  void slice(uint32_t track, std::string_view name, int64_t start_ns, int64_t end_ns, std::string args = {});
  // One transfer of `bytes` on `track`, as an async slice named `name`.
  void transfer(uint32_t track, std::string_view name, int64_t start_ns, int64_t end_ns, uint64_t bytes);

  void comm_opened();
  // Writes the file when the last communicator is gone (and at exit).
  void comm_closed();
  void write();  // the whole file, now
  std::string path() const;
  uint64_t dropped() const;

 private:
  explicit TraceLog(std::string pattern);
  struct Event {
    char phase;  // 'X' slice, 'A' async transfer
    uint32_t track;
    int64_t start_ns, end_ns;
    std::string name, args;
  };
  struct Track {
    uint32_t id;
    std::string name;
  };
  bool keep();  // under mutex_: room for one more event

  std::string pattern_;
  std::string path_;  // once the rank is known
  int rank_ = -1;
  int64_t wall_offset_ns_;  // system clock minus steady clock
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  std::vector<Track> tracks_;
  uint64_t dropped_ = 0;
  uint32_t next_track_ = 1;
  int live_comms_ = 0;
};

}  // namespace strata::runtime::telemetry
