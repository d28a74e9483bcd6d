#include "runtime/communicator/flight_recorder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "runtime/config/config.h"

namespace strata::runtime {
namespace {

// The live recorders, for SIGUSR1.
std::mutex g_registry_mutex;
std::vector<const FlightRecorder*>& registry() {
  static auto* recorders = new std::vector<const FlightRecorder*>();  // outlives static destructors
  return *recorders;
}

const char* state_name(FlightRecord::State state) {
  switch (state) {
    case FlightRecord::State::kRunning: return "running";
    case FlightRecord::State::kDone: return "done";
    case FlightRecord::State::kFailed: return "FAILED";
  }
  return "?";
}

std::string describe(const FlightRecord& r, double now_s) {
  std::string line = fmt::format("  #{} seq {} {} {} x {}", r.index, r.sequence, r.collective, r.count,
                                 datatype_name(r.dtype));
  if (r.peer >= 0) line += fmt::format(" peer/root {}", r.peer);
  if (r.algorithm[0] != '\0') line += fmt::format(" [{}]", r.algorithm);
  line += fmt::format(" at {:.3f} s: {}", r.started_s, state_name(r.state));
  if (r.state == FlightRecord::State::kRunning) {
    line += fmt::format(" for {:.3f} s", now_s - r.started_s);
  } else {
    line += fmt::format(" in {:.6f} s", r.ended_s - r.started_s);
  }
  if (!r.error.empty()) line += ": " + r.error;
  return line;
}

// The signal handler only writes a byte; this thread does the dumping.
int g_signal_pipe[2] = {-1, -1};

void on_sigusr1(int) {
  const char byte = 1;
  [[maybe_unused]] const ssize_t written = write(g_signal_pipe[1], &byte, 1);
}

void dump_on_signal_forever() {
  char byte = 0;
  while (read(g_signal_pipe[0], &byte, 1) >= 0 || errno == EINTR) {
    const std::string text = dump_all_flight_records();
    [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, text.data(), text.size());
  }
}

}  // namespace

FlightRecorder::FlightRecorder(std::string label, size_t capacity) : label_(std::move(label)), ring_(capacity) {
  if (!enabled()) return;
  std::lock_guard lock(g_registry_mutex);
  registry().push_back(this);
}

FlightRecorder::~FlightRecorder() {
  if (!enabled()) return;
  std::lock_guard lock(g_registry_mutex);
  std::erase(registry(), this);
}

uint64_t FlightRecorder::start(uint32_t sequence, const char* collective, uint64_t count, DataType dtype, int peer,
                               const std::string& algorithm) {
  if (!enabled()) return 0;
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count();
  std::lock_guard lock(mutex_);
  const uint64_t index = next_++;
  FlightRecord& r = ring_[index % ring_.size()];
  r.index = index, r.sequence = sequence, r.collective = collective, r.count = count, r.dtype = dtype;
  r.peer = peer, r.started_s = now, r.ended_s = -1, r.state = FlightRecord::State::kRunning;
  r.error.clear();
  const size_t n = std::min(algorithm.size(), sizeof r.algorithm - 1);
  std::memcpy(r.algorithm, algorithm.data(), n);
  r.algorithm[n] = '\0';
  return index;
}

void FlightRecorder::finish(uint64_t index, const char* error) {
  if (!enabled()) return;
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count();
  std::lock_guard lock(mutex_);
  FlightRecord& r = ring_[index % ring_.size()];
  if (r.index != index || r.state != FlightRecord::State::kRunning) return;
  r.ended_s = now;
  r.state = error ? FlightRecord::State::kFailed : FlightRecord::State::kDone;
  if (error) r.error = error;
}

std::vector<FlightRecord> FlightRecorder::records() const {
  std::lock_guard lock(mutex_);
  std::vector<FlightRecord> out;
  const uint64_t first = next_ > ring_.size() ? next_ - ring_.size() : 0;
  for (uint64_t i = first; i < next_; ++i) out.push_back(ring_[i % ring_.size()]);
  return out;
}

std::string FlightRecorder::dump() const {
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count();
  const std::vector<FlightRecord> all = records();
  std::string text = fmt::format("flight record of {}: last {} operation(s), now at {:.3f} s\n", label_,
                                 all.size(), now);
  for (const FlightRecord& r : all) text += describe(r, now) + "\n";
  return text;
}

std::string dump_all_flight_records() {
  std::lock_guard lock(g_registry_mutex);
  std::string text;
  for (const FlightRecorder* recorder : registry()) text += "[strata] " + recorder->dump();
  if (text.empty()) text = "[strata] flight record: no live communicator\n";
  return text;
}

void install_flight_signal() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!config().flight_signal) return;
    struct sigaction current {};
    if (sigaction(SIGUSR1, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) return;
    if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) return;
    fcntl(g_signal_pipe[1], F_SETFL, O_NONBLOCK);  // a signal storm drops dumps, never blocks the handler
    std::thread(dump_on_signal_forever).detach();
    struct sigaction action {};
    action.sa_handler = on_sigusr1;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &action, nullptr);
  });
}

}  // namespace strata::runtime
