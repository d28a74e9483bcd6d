#include "runtime/telemetry/trace.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "common/log.h"
#include "runtime/config/config.h"
#include "runtime/telemetry/metrics.h"

namespace strata::runtime::telemetry {
namespace {

int64_t wall_minus_steady_ns() {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  const auto steady = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(wall - steady).count();
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void write_all_at_exit() {
  if (TraceLog* trace = TraceLog::get()) trace->write();
}

}  // namespace

std::string trace_path_for(std::string_view pattern, int rank) {
  std::string path(pattern);
  if (const size_t at = path.find("%r"); at != std::string::npos) return path.replace(at, 2, std::to_string(rank));
  const std::string suffix = fmt::format(".rank{}", rank);
  if (path.size() > 5 && path.ends_with(".json")) return path.insert(path.size() - 5, suffix);
  return path + suffix + ".json";
}

TraceLog* TraceLog::get() {
  // Made once, the first time a communicator asks, and never freed: the
  // exit handler writes it after static destructors may have run.
  static TraceLog* trace = [] () -> TraceLog* {
    if (config().trace.empty()) return nullptr;
    auto* made = new TraceLog(config().trace);
    std::atexit(write_all_at_exit);
    return made;
  }();
  return trace;
}

TraceLog::TraceLog(std::string pattern) : pattern_(std::move(pattern)), wall_offset_ns_(wall_minus_steady_ns()) {}

uint32_t TraceLog::add_tracks(int rank, std::string_view comm_label, const std::vector<std::string>& names) {
  std::lock_guard lock(mutex_);
  if (rank_ < 0) {
    rank_ = rank;
    path_ = trace_path_for(pattern_, rank);
  }
  const uint32_t first = next_track_;
  tracks_.push_back({next_track_++, fmt::format("{} collectives", comm_label)});
  for (const std::string& name : names) tracks_.push_back({next_track_++, fmt::format("{} {}", comm_label, name)});
  return first;
}

bool TraceLog::keep() {
  if (events_.size() < kMaxEvents) return true;
  ++dropped_;
  return false;
}

void TraceLog::slice(uint32_t track, std::string_view name, int64_t start_ns, int64_t end_ns, std::string args) {
  std::lock_guard lock(mutex_);
  if (keep()) events_.push_back({'X', track, start_ns, end_ns, std::string(name), std::move(args)});
}

void TraceLog::transfer(uint32_t track, std::string_view name, int64_t start_ns, int64_t end_ns, uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (keep()) events_.push_back({'A', track, start_ns, end_ns, std::string(name), fmt::format("\"bytes\":{}", bytes)});
}

void TraceLog::comm_opened() {
  std::lock_guard lock(mutex_);
  ++live_comms_;
}

void TraceLog::comm_closed() {
  {
    std::lock_guard lock(mutex_);
    if (--live_comms_ > 0) return;
  }
  write();
}

std::string TraceLog::path() const {
  std::lock_guard lock(mutex_);
  return path_;
}

uint64_t TraceLog::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void TraceLog::write() {
  std::lock_guard lock(mutex_);
  if (path_.empty()) return;
  const std::string temporary = path_ + ".partial";
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(temporary.c_str(), "w"), &std::fclose);
  if (!file) {
    log(LogLevel::kWarn, "STRATA_TRACE: cannot write {}", temporary);
    return;
  }
  const int pid = rank_;
  auto us = [&](int64_t ns) { return static_cast<double>(ns + wall_offset_ns_) / 1e3; };
  fmt::print(file.get(), "{{\"displayTimeUnit\":\"ms\",\"otherData\":{{\"rank\":{},\"pid\":{},\"dropped_events\":{}}},",
             rank_, getpid(), dropped_);
  fmt::print(file.get(), "\"traceEvents\":[\n{{\"ph\":\"M\",\"pid\":{},\"tid\":0,\"name\":\"process_name\",\"args\":{{\"name\":\"rank {}\"}}}}",
             pid, rank_);
  fmt::print(file.get(), ",\n{{\"ph\":\"M\",\"pid\":{},\"tid\":0,\"name\":\"process_sort_index\",\"args\":{{\"sort_index\":{}}}}}",
             pid, rank_);
  for (const Track& track : tracks_)
    fmt::print(file.get(), ",\n{{\"ph\":\"M\",\"pid\":{},\"tid\":{},\"name\":\"thread_name\",\"args\":{{\"name\":{}}}}}",
               pid, track.id, json_string(track.name));
  uint64_t id = 0;
  for (const Event& event : events_) {
    const std::string args = event.args.empty() ? "" : fmt::format(",\"args\":{{{}}}", event.args);
    if (event.phase == 'X') {
      fmt::print(file.get(), ",\n{{\"ph\":\"X\",\"pid\":{},\"tid\":{},\"name\":{},\"ts\":{:.3f},\"dur\":{:.3f}{}}}", pid,
                 event.track, json_string(event.name), us(event.start_ns),
                 static_cast<double>(event.end_ns - event.start_ns) / 1e3, args);
      continue;
    }
    // Async slices: a begin and an end with one id, on the process's tracks.
    const std::string common = fmt::format("\"cat\":\"transfer\",\"pid\":{},\"tid\":{},\"name\":{},\"id\":{}", pid,
                                           event.track, json_string(event.name), ++id);
    fmt::print(file.get(), ",\n{{\"ph\":\"b\",{},\"ts\":{:.3f}{}}}", common, us(event.start_ns), args);
    fmt::print(file.get(), ",\n{{\"ph\":\"e\",{},\"ts\":{:.3f}}}", common, us(event.end_ns));
  }
  fmt::print(file.get(), "\n]}}\n");
  if (std::fflush(file.get()) != 0 || std::rename(temporary.c_str(), path_.c_str()) != 0)
    log(LogLevel::kWarn, "STRATA_TRACE: cannot write {}", path_);
}

}  // namespace strata::runtime::telemetry
