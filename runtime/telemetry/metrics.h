// Telemetry of one communicator: per link (inside the node, inside the
// site, and each inter-site link, whole and per lane) the bytes, messages,
// busy time and errors of its transfers; per collective and algorithm the
// calls, bytes, failures and a latency histogram. The executor counts on
// the thread that runs the communicator's operations; scrapes read from any
// thread (metrics_text, the Prometheus endpoint). Off by default: a
// communicator without telemetry carries a null pointer and pays nothing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/network.h"

namespace strata::runtime::telemetry {

class TraceLog;

// Written by one thread, read by any: a plain load and store, no locked add.
class Counter {
 public:
  void add(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

enum class LinkKind : uint8_t { kIntraNode, kIntraSite, kWan };
std::string_view link_kind_name(LinkKind kind);  // "intra_node", "intra_site", "wan"

enum Direction : uint8_t { kSend = 0, kReceive = 1 };

struct LinkCounters {
  LinkKind kind{};
  int peer_site = -1;  // kWan: the other end's site
  int lane = -1;       // kWan: the lane, or -1 for the whole link
  std::array<Counter, 2> bytes, messages, busy_ns;  // per Direction
  Counter errors;
  // What the planner assumes of the link (whole links and intra kinds only).
  std::atomic<double> model_bytes_per_s{0}, model_latency_s{0};
  // Writer only: transfers now in flight and since when, per direction.
  std::array<uint32_t, 2> in_flight{};
  std::array<int64_t, 2> busy_since_ns{};
};

// Latency buckets of the per-collective histograms (seconds, upper bounds).
inline constexpr std::array<double, 22> kLatencyBuckets = {
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    5e-2, 0.1,    0.25, 0.5,  1,      2.5,  5,    10,     25,   50,   100};

struct CollectiveCounters {
  std::string collective, algorithm;
  uint64_t calls = 0, failures = 0, bytes = 0;
  double seconds = 0;
  std::array<uint64_t, kLatencyBuckets.size()> buckets{};  // not cumulative
};

int64_t now_ns();  // steady clock

class CommMetrics {
 public:
  // `network` and `rank` place every peer; `lanes` is the most lanes a WAN
  // link may use. `trace` may be null.
  CommMetrics(std::string comm_name, uint32_t comm_id, int rank, int nranks, const collectives::Network& network,
              int lanes, TraceLog* trace);
  ~CommMetrics();
  CommMetrics(const CommMetrics&) = delete;
  CommMetrics& operator=(const CommMetrics&) = delete;

  // The counters a transfer to or from `peer` (a communicator rank) over
  // `lane` lands in: the lane's, and for WAN also the whole link's.
  uint32_t link_index(int peer, int lane) const;

  void transfer_started(uint32_t link, Direction direction, int64_t now);
  void transfer_ended(uint32_t link, Direction direction, uint64_t bytes, int64_t started, int64_t now);
  // A transfer that ended without moving data: counts an error, or nothing.
  void transfer_failed(uint32_t link, Direction direction, int64_t now);
  void transfer_cancelled(uint32_t link, Direction direction, int64_t now);

  // A call (or a group of calls) entered the executor at `now`; the
  // endpoint shows how long it has been running until collective_ended.
  void collective_started(int64_t now) { running_since_ns_.store(now, std::memory_order_relaxed); }
  void collective_ended(std::string_view collective, std::string_view algorithm, uint64_t bytes, int64_t started,
                        int64_t now, bool ok);

  // The planner's model of each link, from `network` (at creation, and
  // after the live model changed it; counted as a re-plan then).
  void set_model(const collectives::Network& network);
  void model_changed(const collectives::Network& network) {
    set_model(network);
    replans_.add(1);
  }

  // Appends this communicator's samples to each family's text (Prometheus
  // exposition lines, without the HELP/TYPE headers prometheus.cc adds).
  void render(std::map<std::string, std::string>& families) const;
  // This rank's totals over one kind of link, for tests and summaries.
  uint64_t bytes(LinkKind kind, Direction direction) const;
  std::vector<CollectiveCounters> collectives() const;
  const std::vector<LinkCounters>& links() const { return links_; }
  std::string labels() const;  // comm="...",comm_id="...",rank="..."

 private:
  void add_busy(LinkCounters& link, Direction direction, int64_t now, uint32_t index);
  void end_one(uint32_t index, Direction direction, uint64_t bytes, int64_t now);
  void leave(uint32_t index, Direction direction, int64_t now);  // one fewer in flight
  // The trace track of a link's busy periods in one direction.
  uint32_t track_of(uint32_t index, Direction direction) const { return trace_track_ + 1 + 2 * index + direction; }

  void render_links(std::map<std::string, std::string>& families) const;
  void render_collectives(std::map<std::string, std::string>& families) const;

  std::string comm_name_;
  uint32_t comm_id_;
  int rank_;
  int lanes_;
  std::vector<LinkCounters> links_;  // fixed at construction: readers index it unlocked
  std::vector<uint32_t> link_base_;  // per peer: its first entry; WAN lanes follow their link's entry
  std::vector<uint8_t> is_wan_;      // per peer
  TraceLog* trace_;
  uint32_t trace_track_ = 0;  // the first of this communicator's trace tracks
  std::atomic<int64_t> running_since_ns_{0};  // 0: no call running
  Counter replans_;
  mutable std::mutex collectives_mutex_;
  std::vector<CollectiveCounters> collectives_;
};

// Every live communicator's metrics, for the endpoint. Registration is by
// the constructor and destructor.
void for_each_comm(const std::function<void(const CommMetrics&)>& visit);

}  // namespace strata::runtime::telemetry
