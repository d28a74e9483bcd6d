// Command-line configuration of strata-wan-emu.
//
// The emulator takes everything on its command line: the strata-sites CLI
// owns the user-facing formats (JSON, `--link 0-1:...`) and hands the
// emulator fully resolved numbers in ns, bit/s and bytes. The one file it
// reads, the links file (`strata-sites set`), uses the same `--link` syntax.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::sites {

// One direction of one site pair.
struct LinkParams {
  int64_t delay_ns = 0;       // one-way propagation delay
  int64_t jitter_ns = 0;      // uniform extra delay in [-jitter, +jitter]
  uint64_t rate_bps = 0;      // serialization rate; 0 = unlimited
  double loss = 0.0;          // drop probability per packet, 0..1
  uint64_t queue_bytes = 0;   // bottleneck buffer; 0 = unlimited
  bool reorder = false;       // let jitter reorder packets (netem-like)

  bool operator==(const LinkParams&) const = default;
};

// New parameters for the direction from -> to.
struct LinkUpdate {
  size_t from = 0, to = 0;
  LinkParams params;
};

struct SiteSpec {
  std::string name;
  std::string netns_path;  // e.g. /run/netns/strata-site0
  std::string tun_name;    // persistent TUN device inside that namespace
};

struct EmuConfig {
  std::vector<SiteSpec> sites;
  // links[i * sites.size() + j] is the i -> j direction; empty = no link.
  std::vector<std::optional<LinkParams>> links;
  std::string stats_path;
  std::string links_path;  // reread on SIGHUP; empty = SIGHUP is ignored
  int64_t stats_interval_ns = 200'000'000;
  int64_t late_threshold_ns = 1'000'000;
  int64_t warn_interval_ns = 1'000'000'000;
  uint64_t seed = 1;
  int rt_priority = 0;  // SCHED_FIFO priority; 0 = normal scheduling
};

// Exit codes shared with the strata-sites CLI (see docs/testbed.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitMissingPrivilege = 77;

// Parses argv; on error prints a message and returns nullopt.
std::optional<EmuConfig> parse_emu_args(int argc, char** argv);

// The links file: a line "generation N" (echoed in the stats, so the CLI
// knows when the emulator applied it) and lines in `--link` syntax, each of
// which replaces that direction's parameters; '#' starts a comment line.
// Parsed whole, so one bad line changes nothing. Prints why it failed.
struct LinkUpdates {
  uint64_t generation = 0;
  std::vector<LinkUpdate> links;
};
std::optional<LinkUpdates> parse_link_updates(std::string_view text,
                                              size_t site_count);

}  // namespace strata::sites
