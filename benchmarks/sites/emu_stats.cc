#include "emu_stats.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace strata::sites {
namespace {

double unix_now_s() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

void write_site(FILE* f, size_t index, const SiteSpec& spec,
                const SiteCounters& c) {
  std::fprintf(f,
               "    {\"index\": %zu, \"name\": \"%s\", \"rx_pkts\": %llu, "
               "\"rx_bytes\": %llu, \"unroutable_pkts\": %llu, "
               "\"read_errors\": %llu}",
               index, spec.name.c_str(), (unsigned long long)c.rx_pkts,
               (unsigned long long)c.rx_bytes,
               (unsigned long long)c.unroutable_pkts,
               (unsigned long long)c.read_errors);
}

void write_sample_stats(FILE* f, const char* name, const SampleStats& s) {
  std::fprintf(f,
               "\"%s\": {\"count\": %llu, \"min\": %.1f, \"mean\": %.1f, "
               "\"max\": %.1f, \"std\": %.1f}",
               name, (unsigned long long)s.count, s.min * 1e-3,
               s.mean() * 1e-3, s.max * 1e-3, s.stddev() * 1e-3);
}

void write_link(FILE* f, size_t from, size_t to, const WanLink& link,
                int64_t now_ns) {
  const LinkParams& p = link.params();
  const LinkCounters& c = link.counters();
  auto u = [](uint64_t v) { return (unsigned long long)v; };
  std::fprintf(f,
               "    {\"from\": %zu, \"to\": %zu, \"delay_us\": %lld, "
               "\"jitter_us\": %lld, \"rate_bps\": %llu, \"loss\": %g, "
               "\"queue_bytes\": %llu, \"reorder\": %s,\n",
               from, to, (long long)(p.delay_ns / 1000),
               (long long)(p.jitter_ns / 1000), u(p.rate_bps), p.loss,
               u(p.queue_bytes), p.reorder ? "true" : "false");
  std::fprintf(f,
               "     \"rx_pkts\": %llu, \"rx_bytes\": %llu, \"tx_pkts\": %llu, "
               "\"tx_bytes\": %llu, \"drop_loss_pkts\": %llu, "
               "\"drop_queue_pkts\": %llu, \"drop_queue_bytes\": %llu, "
               "\"drop_write_pkts\": %llu,\n",
               u(c.rx_pkts), u(c.rx_bytes), u(c.tx_pkts), u(c.tx_bytes),
               u(c.drop_loss_pkts), u(c.drop_queue_pkts),
               u(c.drop_queue_bytes), u(c.drop_write_pkts));
  std::fprintf(f,
               "     \"late_pkts\": %llu, \"late_max_us\": %.1f, "
               "\"backlog_bytes\": %llu, \"backlog_max_bytes\": %llu, "
               "\"inflight_pkts\": %llu, \"inflight_bytes\": %llu,\n     ",
               u(c.late_pkts), double(c.late_max_ns) * 1e-3,
               u(link.backlog_bytes(now_ns)), u(c.backlog_max_bytes),
               u(c.inflight_pkts), u(c.inflight_bytes));
  write_sample_stats(f, "sojourn_us", c.sojourn_ns);
  std::fputs(", ", f);
  write_sample_stats(f, "lateness_us", c.lateness_ns);
  std::fputs("}", f);
}

void write_body(FILE* f, const StatsView& view, int64_t now_ns) {
  std::fprintf(f,
               "{\"pid\": %d, \"written_unix\": %.3f, \"uptime_s\": %.3f, "
               "\"wakeups\": %llu, \"oversleep_max_us\": %.1f, "
               "\"busy_max_us\": %.1f, \"queued_pkts\": %llu, "
               "\"pool_bytes\": %llu, \"links_generation\": %llu,\n"
               " \"sites\": [\n",
               int(getpid()), unix_now_s(),
               double(now_ns - view.loop.started_ns) * 1e-9,
               (unsigned long long)view.loop.wakeups,
               double(view.loop.oversleep_max_ns) * 1e-3,
               double(view.loop.busy_max_ns) * 1e-3,
               (unsigned long long)view.loop.queued_pkts,
               (unsigned long long)view.loop.pool_bytes,
               (unsigned long long)view.loop.links_generation);
  for (size_t i = 0; i < view.sites.size(); ++i) {
    if (i) std::fputs(",\n", f);
    write_site(f, i, view.config.sites[i], view.sites[i]);
  }
  std::fputs("\n ],\n \"links\": [\n", f);
  size_t n = view.sites.size();
  bool first = true;
  for (size_t k = 0; k < view.links.size(); ++k) {
    if (!view.links[k]) continue;
    if (!first) std::fputs(",\n", f);
    first = false;
    write_link(f, k / n, k % n, *view.links[k], now_ns);
  }
  std::fputs("\n ]\n}\n", f);
}

}  // namespace

bool stats_write_json(const StatsView& view, int64_t now_ns) {
  std::string tmp = view.config.stats_path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return false;
  write_body(f, view, now_ns);
  bool ok = std::fflush(f) == 0;
  ok = (std::fclose(f) == 0) && ok;
  return ok && std::rename(tmp.c_str(), view.config.stats_path.c_str()) == 0;
}

}  // namespace strata::sites
