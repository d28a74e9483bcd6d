// Live counters of strata-wan-emu, published as a small JSON file that
// `strata-sites status` reads (rewritten atomically every interval).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emu_config.h"
#include "wan_link.h"

namespace strata::sites {

struct SiteCounters {
  uint64_t rx_pkts = 0, rx_bytes = 0;  // read from this site's TUN
  uint64_t unroutable_pkts = 0;        // not IPv4 to another site's /24
  uint64_t read_errors = 0;
};

struct LoopCounters {
  int64_t started_ns = 0;
  uint64_t wakeups = 0;
  // Why a packet was late: the loop woke up late (descheduled: CPU
  // contention, hypervisor) or it was busy in its own reads/writes.
  int64_t oversleep_max_ns = 0;  // ppoll returned this much after its timeout
  int64_t busy_max_ns = 0;       // longest stretch between two ppoll calls
  uint64_t queued_pkts = 0;      // packets waiting in the delay line now
  uint64_t pool_bytes = 0;       // packet memory high-water
  uint64_t links_generation = 0; // last links file applied (SIGHUP)
};

struct StatsView {
  const EmuConfig& config;
  const std::vector<SiteCounters>& sites;
  const std::vector<std::optional<WanLink>>& links;
  const LoopCounters& loop;
};

// Writes `path`.tmp then renames it over `path`; returns false on I/O error.
bool stats_write_json(const StatsView& view, int64_t now_ns);

}  // namespace strata::sites
