// strata-wan-emu: user-space WAN link emulator for the multi-site testbed.
//
// Reads IPv4 packets from one TUN device per site, picks the link (i -> j)
// from the destination address (site j owns 198.18.j.0/24), lets WanLink
// decide loss / queue drop / due time, and writes the packet to site j's
// TUN when it is due. The kernel has no netem here, hence user space.
//
// One thread, one ppoll loop: on a 2-core box the TCP stacks of the sites
// need the other core, and a single loop keeps per-link FIFO order trivially.
// All pending packets share one min-heap on (due, seq): with constant delay
// per link each link's packets are already sorted, but one heap also covers
// jitter-with-reorder and gives the next deadline for every link in O(1).
//
// SIGHUP rereads the links file (`strata-sites set`) between two packets, so
// a rate or delay change needs no restart and TCP connections through the
// link survive it; the stats are published at once for the CLI to wait on.
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <queue>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "emu_config.h"
#include "emu_stats.h"
#include "packet_pool.h"
#include "tun_device.h"
#include "wan_link.h"

namespace strata::sites {
namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_reload = 0;

int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Packet {
  int64_t due_ns;
  uint64_t seq;
  int64_t arrived_ns;
  uint8_t* data;
  uint32_t len;
  uint32_t link;  // index into Emulator::links_
  bool big;       // which pool class `data` came from
};

struct DueLater {
  bool operator()(const Packet& a, const Packet& b) const {
    return a.due_ns != b.due_ns ? a.due_ns > b.due_ns : a.seq > b.seq;
  }
};

// What was already reported per link, so each warning line covers one window.
struct WarnedCounts {
  uint64_t drop_queue_pkts = 0, late_pkts = 0, drop_write_pkts = 0;
};

class Emulator {
 public:
  Emulator(EmuConfig config, std::vector<int> fds);
  void run();

 private:
  void read_site(size_t site);
  void route(size_t site, uint8_t* data, uint32_t len, bool big);
  void deliver_due(int64_t now);
  void periodic(int64_t now);
  void warn_overloads();
  void warn_link(size_t k);
  void reload_links();
  bool apply_link_updates(const LinkUpdates& updates);
  timespec poll_timeout(int64_t now) const;

  EmuConfig config_;
  std::vector<pollfd> pollfds_;
  std::vector<SiteCounters> sites_;
  std::vector<std::optional<WanLink>> links_;
  std::vector<WarnedCounts> warned_;
  std::priority_queue<Packet, std::vector<Packet>, DueLater> due_heap_;
  PacketPool pool_;
  LoopCounters loop_;
  uint64_t next_seq_ = 0;
  int64_t next_stats_ns_ = 0, next_warn_ns_ = 0;
};

Emulator::Emulator(EmuConfig config, std::vector<int> fds)
    : config_(std::move(config)), sites_(fds.size()),
      links_(config_.links.size()), warned_(config_.links.size()) {
  for (int fd : fds) pollfds_.push_back(pollfd{fd, POLLIN, 0});
  for (size_t k = 0; k < links_.size(); ++k) {
    if (config_.links[k]) links_[k].emplace(*config_.links[k], config_.seed + k);
  }
  loop_.started_ns = mono_ns();
}

void Emulator::route(size_t site, uint8_t* data, uint32_t len, bool big) {
  size_t n = sites_.size();
  // IPv4 only; destination 198.18.<site>.x (offsets 16..18 of the header).
  bool ipv4 = len >= 20 && (data[0] >> 4) == 4 && data[16] == 198 &&
              data[17] == 18 && data[18] < n && data[18] != site;
  size_t k = ipv4 ? site * n + data[18] : 0;
  if (!ipv4 || !links_[k]) {
    sites_[site].unroutable_pkts++;
    pool_.give(data, big);
    return;
  }
  int64_t now = mono_ns();
  Admission a = links_[k]->admit(len, now);
  if (a.verdict != Admission::Verdict::kAccept) {
    pool_.give(data, big);
    return;
  }
  due_heap_.push(Packet{a.due_ns, next_seq_++, now, data, len, uint32_t(k), big});
}

// Reads a bounded batch so one busy site cannot starve the others.
void Emulator::read_site(size_t site) {
  constexpr int kBatch = 64;
  for (int i = 0; i < kBatch; ++i) {
    uint8_t* big = pool_.take(true);
    ssize_t n = read(pollfds_[site].fd, big, PacketPool::kBigBytes);
    if (n <= 0) {
      pool_.give(big, true);
      if (n < 0 && errno != EAGAIN && errno != EINTR) sites_[site].read_errors++;
      return;
    }
    sites_[site].rx_pkts++;
    sites_[site].rx_bytes += uint64_t(n);
    if (uint32_t(n) <= PacketPool::kSmallBytes) {
      uint8_t* small = pool_.take(false);
      std::memcpy(small, big, size_t(n));
      pool_.give(big, true);
      route(site, small, uint32_t(n), false);
    } else {
      route(site, big, uint32_t(n), true);
    }
    // A batch of 64 KiB reads takes long enough (~10 us each) to make due
    // packets late; deliver them between reads.
    if (!due_heap_.empty() && due_heap_.top().due_ns <= mono_ns()) {
      deliver_due(mono_ns());
    }
  }
}

void Emulator::deliver_due(int64_t now) {
  size_t n = sites_.size();
  while (!due_heap_.empty() && due_heap_.top().due_ns <= now) {
    Packet p = due_heap_.top();
    due_heap_.pop();
    ssize_t w = write(pollfds_[p.link % n].fd, p.data, p.len);
    int64_t done = mono_ns();
    links_[p.link]->record_delivery(p.len, p.arrived_ns, p.due_ns, done,
                                    w == ssize_t(p.len),
                                    config_.late_threshold_ns);
    pool_.give(p.data, p.big);
  }
}

// One line per link and kind per warn interval, so a sustained overload is
// loud in the log but cannot flood it.
void Emulator::warn_link(size_t k) {
  size_t n = sites_.size();
  const LinkCounters& c = links_[k]->counters();
  WarnedCounts& w = warned_[k];
  int64_t late_max_ns = links_[k]->take_window_late_max_ns();
  if (c.drop_queue_pkts > w.drop_queue_pkts) {
    std::fprintf(stderr, "strata-wan-emu: WARNING link %zu>%zu: queue full "
                 "(%llu bytes), dropped %llu packets since last report\n",
                 k / n, k % n,
                 (unsigned long long)links_[k]->params().queue_bytes,
                 (unsigned long long)(c.drop_queue_pkts - w.drop_queue_pkts));
  }
  if (c.late_pkts > w.late_pkts) {
    std::fprintf(stderr, "strata-wan-emu: WARNING link %zu>%zu: %llu packets "
                 "delivered more than %.1f ms late (worst %.1f ms): the "
                 "emulator is falling behind real time\n", k / n, k % n,
                 (unsigned long long)(c.late_pkts - w.late_pkts),
                 double(config_.late_threshold_ns) * 1e-6,
                 double(late_max_ns) * 1e-6);
  }
  if (c.drop_write_pkts > w.drop_write_pkts) {
    std::fprintf(stderr, "strata-wan-emu: WARNING link %zu>%zu: %llu writes "
                 "to the destination TUN failed\n", k / n, k % n,
                 (unsigned long long)(c.drop_write_pkts - w.drop_write_pkts));
  }
  w = {c.drop_queue_pkts, c.late_pkts, c.drop_write_pkts};
}

void Emulator::warn_overloads() {
  for (size_t k = 0; k < links_.size(); ++k) {
    if (links_[k]) warn_link(k);
  }
}

void Emulator::periodic(int64_t now) {
  if (now >= next_warn_ns_) {
    warn_overloads();
    next_warn_ns_ = now + config_.warn_interval_ns;
  }
  if (now >= next_stats_ns_) {
    loop_.queued_pkts = due_heap_.size();
    loop_.pool_bytes = pool_.allocated_bytes();
    if (!stats_write_json({config_, sites_, links_, loop_}, now)) {
      std::fprintf(stderr, "strata-wan-emu: cannot write %s: %s\n",
                   config_.stats_path.c_str(), std::strerror(errno));
    }
    next_stats_ns_ = now + config_.stats_interval_ns;
  }
}

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path);
  if (!in.is_open()) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// All or nothing: a file naming a link this emulator does not have changes
// no link at all.
bool Emulator::apply_link_updates(const LinkUpdates& updates) {
  size_t n = sites_.size();
  for (const LinkUpdate& u : updates.links) {
    if (!links_[u.from * n + u.to]) {
      std::fprintf(stderr, "strata-wan-emu: links file: there is no link "
                   "%zu>%zu to change\n", u.from, u.to);
      return false;
    }
  }
  int64_t now = mono_ns();
  size_t changed = 0;
  for (const LinkUpdate& u : updates.links) {
    changed += links_[u.from * n + u.to]->set_params(u.params, now);
  }
  std::fprintf(stderr, "strata-wan-emu: links generation %llu: %zu of %zu "
               "links changed\n", (unsigned long long)updates.generation,
               changed, updates.links.size());
  return true;
}

void Emulator::reload_links() {
  if (config_.links_path.empty()) {
    std::fputs("strata-wan-emu: SIGHUP ignored: no --links-file\n", stderr);
    return;
  }
  std::optional<std::string> text = read_text_file(config_.links_path);
  if (!text) {
    std::fprintf(stderr, "strata-wan-emu: cannot read %s: %s\n",
                 config_.links_path.c_str(), std::strerror(errno));
    return;
  }
  std::optional<LinkUpdates> updates =
      parse_link_updates(*text, sites_.size());
  if (!updates || !apply_link_updates(*updates)) return;
  loop_.links_generation = updates->generation;
  next_stats_ns_ = 0;  // publish now: `strata-sites set` waits for it
}

timespec Emulator::poll_timeout(int64_t now) const {
  int64_t wake = std::min(next_stats_ns_, next_warn_ns_);
  if (!due_heap_.empty()) wake = std::min(wake, due_heap_.top().due_ns);
  int64_t wait = std::max<int64_t>(0, wake - now);
  return timespec{time_t(wait / 1'000'000'000), long(wait % 1'000'000'000)};
}

void Emulator::run() {
  sigset_t unblocked;
  sigemptyset(&unblocked);
  int64_t woke = mono_ns();
  while (!g_stop) {
    int64_t now = mono_ns();
    deliver_due(now);
    periodic(now);
    now = mono_ns();
    loop_.busy_max_ns = std::max(loop_.busy_max_ns, now - woke);
    timespec timeout = poll_timeout(now);
    int rc = ppoll(pollfds_.data(), pollfds_.size(), &timeout, &unblocked);
    woke = mono_ns();
    loop_.wakeups++;
    if (rc == 0) {
      int64_t wanted = now + timeout.tv_sec * 1'000'000'000 + timeout.tv_nsec;
      loop_.oversleep_max_ns = std::max(loop_.oversleep_max_ns, woke - wanted);
    }
    if (g_reload) {
      g_reload = 0;
      reload_links();
    }
    if (rc <= 0) continue;
    for (size_t i = 0; i < pollfds_.size(); ++i) {
      if (pollfds_[i].revents & POLLIN) read_site(i);
    }
  }
  next_stats_ns_ = 0;  // final snapshot for `status` after exit
  periodic(mono_ns());
}

void on_signal(int) { g_stop = 1; }
void on_reload(int) { g_reload = 1; }

// SIGTERM/SIGINT/SIGHUP stay blocked except inside ppoll, so a stop or
// reload request wakes the loop immediately instead of landing between
// syscalls (and never interrupts a TUN read or write).
void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_reload;
  sigaction(SIGHUP, &sa, nullptr);
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&blocked, sig);
  sigprocmask(SIG_BLOCK, &blocked, nullptr);
}

std::vector<int> open_tuns(const EmuConfig& config) {
  std::vector<int> fds;
  for (const SiteSpec& site : config.sites) {
    fds.push_back(tun_open_in_netns(site.netns_path, site.tun_name));
  }
  return fds;
}

// On a 2-core box the ranks and iperf3 preempt a normally scheduled emulator
// for ~1 ms at a time, which shows up as RTT spikes; SCHED_FIFO removes that.
// The loop always sleeps in ppoll when nothing is due, and the kernel's RT
// throttling (95% by default) still bounds it if it is overloaded.
void set_realtime(int priority) {
  if (priority <= 0) return;
  sched_param param{};
  param.sched_priority = priority;
  if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
    std::fprintf(stderr, "strata-wan-emu: WARNING cannot use SCHED_FIFO "
                 "priority %d (%s); delays may jitter under CPU load\n",
                 priority, std::strerror(errno));
  }
}

int emulator_main(int argc, char** argv) {
  std::optional<EmuConfig> config = parse_emu_args(argc, argv);
  if (!config) return kExitUsage;
  if (access("/dev/net/tun", R_OK | W_OK) != 0) {
    std::fprintf(stderr, "strata-wan-emu: /dev/net/tun: %s (TUN support "
                 "and root or CAP_NET_ADMIN are needed)\n", std::strerror(errno));
    return kExitMissingPrivilege;
  }
  std::vector<int> fds;
  try {
    fds = open_tuns(*config);
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "strata-wan-emu: %s\n", e.what());
    int code = e.code().value();
    return code == EPERM || code == EACCES ? kExitMissingPrivilege : kExitError;
  }
  // Default timer slack (50 us) would add up to that much to every delay.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  set_realtime(config->rt_priority);
  install_signals();
  std::fprintf(stderr, "strata-wan-emu: pid %d moving packets between %zu sites\n",
               int(getpid()), config->sites.size());
  Emulator emulator(std::move(*config), std::move(fds));
  emulator.run();
  std::fprintf(stderr, "strata-wan-emu: stopped\n");
  return kExitOk;
}

}  // namespace
}  // namespace strata::sites

int main(int argc, char** argv) {
  return strata::sites::emulator_main(argc, argv);
}
