// The flight recorder: the last operations of one communicator (what, how
// big, with whom, which algorithm, and how each ended), so that a hang or a
// failure can be read after the fact. Dumped to stderr when an operation
// fails or times out, and for every live communicator on SIGUSR1.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/datatype.h"

namespace strata::runtime {

struct FlightRecord {
  enum class State : uint8_t { kRunning, kDone, kFailed };
  uint64_t index = 0;     // n-th operation recorded on this communicator, from 0
  uint32_t sequence = 0;  // the wire tag's sequence number
  const char* collective = "";  // static storage (collective_name)
  uint64_t count = 0;
  DataType dtype{};
  int peer = -1;          // root, or the peer of a send/recv; -1 where none
  char algorithm[40] = {};
  double started_s = 0;   // since the recorder was made
  double ended_s = -1;
  State state = State::kRunning;
  std::string error;      // kFailed: the error's message (names the ranks waited for)
};

class FlightRecorder {
 public:
  // `label` names the communicator and rank in dumps; capacity 0 records nothing.
  FlightRecorder(std::string label, size_t capacity);
  ~FlightRecorder();
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;

  bool enabled() const { return !ring_.empty(); }
  // Records an operation as running; returns its index for finish().
  uint64_t start(uint32_t sequence, const char* collective, uint64_t count, DataType dtype, int peer,
                 const std::string& algorithm);
  // Marks it done, or failed with `error` (nullptr: done). A record the ring
  // has already overwritten is ignored.
  void finish(uint64_t index, const char* error);

  std::vector<FlightRecord> records() const;  // oldest first
  std::string dump() const;                   // a header line, then one line per record

 private:
  std::string label_;
  std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
  mutable std::mutex mutex_;
  std::vector<FlightRecord> ring_;
  uint64_t next_ = 0;
};

// Every live recorder's dump (what SIGUSR1 prints).
std::string dump_all_flight_records();

// Installs the SIGUSR1 dump once per process, if STRATA_FLIGHT_SIGNAL is on
// and SIGUSR1 still has its default action (never replaces a handler).
void install_flight_signal();

}  // namespace strata::runtime
