#include "runtime/telemetry/metrics.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "runtime/telemetry/trace.h"

namespace strata::runtime::telemetry {
namespace {

// Never destroyed: the endpoint's thread may scrape while the process exits.
struct Registry {
  std::mutex mutex;
  std::set<const CommMetrics*> comms;
};
Registry& registry() {
  static auto* made = new Registry;
  return *made;
}

constexpr uint32_t kIntraNodeLink = 0, kIntraSiteLink = 1;

std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string_view direction_name(int direction) { return direction == kSend ? "send" : "receive"; }

std::string link_labels(const LinkCounters& link) {
  return fmt::format("link=\"{}\",peer_site=\"{}\",lane=\"{}\"", link_kind_name(link.kind),
                     link.kind == LinkKind::kWan ? std::to_string(link.peer_site) : "",
                     link.lane >= 0 ? std::to_string(link.lane) : "all");
}

std::string track_name(const LinkCounters& link) {
  if (link.kind != LinkKind::kWan) return std::string(link_kind_name(link.kind));
  if (link.lane < 0) return fmt::format("wan to site {}", link.peer_site);
  return fmt::format("wan to site {} lane {}", link.peer_site, link.lane);
}

std::string number(double value) { return fmt::format("{:.9g}", value); }

}  // namespace

std::string_view link_kind_name(LinkKind kind) {
  switch (kind) {
    case LinkKind::kIntraNode: return "intra_node";
    case LinkKind::kIntraSite: return "intra_site";
    case LinkKind::kWan: return "wan";
  }
  return "?";
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

CommMetrics::CommMetrics(std::string comm_name, uint32_t comm_id, int rank, int nranks,
                         const collectives::Network& network, int lanes, TraceLog* trace)
    : comm_name_(std::move(comm_name)), comm_id_(comm_id), rank_(rank), lanes_(std::max(lanes, 1)), trace_(trace) {
  const int sites = std::max(network.site_count(), 1);
  links_ = std::vector<LinkCounters>(2 + static_cast<size_t>(sites - 1) * static_cast<size_t>(lanes_ + 1));
  links_[kIntraNodeLink].kind = LinkKind::kIntraNode;
  links_[kIntraSiteLink].kind = LinkKind::kIntraSite;
  std::vector<uint32_t> site_link(static_cast<size_t>(sites), 0);
  uint32_t next = 2;
  const int my_site = network.site_of(rank);
  for (int site = 0; site < sites; ++site) {
    if (site == my_site) continue;
    site_link[static_cast<size_t>(site)] = next;
    for (int lane = -1; lane < lanes_; ++lane) {
      LinkCounters& link = links_[next++];
      link.kind = LinkKind::kWan;
      link.peer_site = site;
      link.lane = lane;
    }
  }
  link_base_.resize(static_cast<size_t>(nranks));
  is_wan_.resize(static_cast<size_t>(nranks));
  for (int peer = 0; peer < nranks; ++peer) {
    const bool wan = network.site_of(peer) != my_site;
    is_wan_[static_cast<size_t>(peer)] = wan;
    link_base_[static_cast<size_t>(peer)] = wan ? site_link[static_cast<size_t>(network.site_of(peer))]
                                          : network.node_of(peer) == network.node_of(rank) ? kIntraNodeLink
                                                                                            : kIntraSiteLink;
  }
  set_model(network);
  if (trace_) {
    std::vector<std::string> names;
    for (const LinkCounters& link : links_)
      for (int d = kSend; d <= kReceive; ++d) names.push_back(fmt::format("{} {}", track_name(link), direction_name(d)));
    trace_track_ = trace_->add_tracks(rank, fmt::format("comm '{}'", comm_name_), names);
    trace_->comm_opened();
  }
  std::lock_guard lock(registry().mutex);
  registry().comms.insert(this);
}

CommMetrics::~CommMetrics() {
  {
    std::lock_guard lock(registry().mutex);
    registry().comms.erase(this);
  }
  if (trace_) trace_->comm_closed();
}

void CommMetrics::set_model(const collectives::Network& network) {
  for (int peer = 0; peer < static_cast<int>(link_base_.size()); ++peer) {
    if (peer == rank_) continue;
    const collectives::LinkCost& cost = network.link(rank_, peer);
    LinkCounters& link = links_[link_base_[static_cast<size_t>(peer)]];
    link.model_bytes_per_s.store(cost.bandwidth_bytes_per_s);
    link.model_latency_s.store(cost.latency_s);
  }
}

uint32_t CommMetrics::link_index(int peer, int lane) const {
  const uint32_t base = link_base_[static_cast<size_t>(peer)];
  if (!is_wan_[static_cast<size_t>(peer)]) return base;
  return base + 1 + static_cast<uint32_t>(std::clamp(lane, 0, lanes_ - 1));
}

void CommMetrics::transfer_started(uint32_t index, Direction direction, int64_t now) {
  for (LinkCounters* link = &links_[index];; link -= link->lane + 1) {
    if (link->in_flight[direction]++ == 0) link->busy_since_ns[direction] = now;
    if (link->lane < 0) break;
  }
}

void CommMetrics::end_one(uint32_t index, Direction direction, uint64_t bytes, int64_t now) {
  LinkCounters& link = links_[index];
  link.bytes[direction].add(bytes);
  link.messages[direction].add(1);
  leave(index, direction, now);
}

void CommMetrics::leave(uint32_t index, Direction direction, int64_t now) {
  LinkCounters& link = links_[index];
  if (link.in_flight[direction] > 0 && --link.in_flight[direction] == 0) add_busy(link, direction, now, index);
}

void CommMetrics::add_busy(LinkCounters& link, Direction direction, int64_t now, uint32_t index) {
  const int64_t since = link.busy_since_ns[direction];
  link.busy_ns[direction].add(static_cast<uint64_t>(std::max<int64_t>(now - since, 0)));
  if (trace_) trace_->slice(track_of(index, direction), "busy", since, now);
}

void CommMetrics::transfer_ended(uint32_t index, Direction direction, uint64_t bytes, int64_t started, int64_t now) {
  end_one(index, direction, bytes, now);
  const LinkCounters& link = links_[index];
  if (link.lane >= 0) end_one(index - static_cast<uint32_t>(link.lane) - 1, direction, bytes, now);
  if (trace_)
    trace_->transfer(track_of(index, direction), fmt::format("{} {}", direction_name(direction), track_name(link)),
                     started, now, bytes);
}

void CommMetrics::transfer_failed(uint32_t index, Direction direction, int64_t now) {
  for (uint32_t i = index;; i -= static_cast<uint32_t>(links_[i].lane) + 1) {
    links_[i].errors.add(1);
    leave(i, direction, now);
    if (links_[i].lane < 0) break;
  }
}

void CommMetrics::transfer_cancelled(uint32_t index, Direction direction, int64_t now) {
  for (uint32_t i = index;; i -= static_cast<uint32_t>(links_[i].lane) + 1) {
    leave(i, direction, now);
    if (links_[i].lane < 0) break;
  }
}

void CommMetrics::collective_ended(std::string_view collective, std::string_view algorithm, uint64_t bytes,
                                   int64_t started, int64_t now, bool ok) {
  const double seconds = static_cast<double>(now - started) * 1e-9;
  running_since_ns_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard lock(collectives_mutex_);
    auto entry = std::find_if(collectives_.begin(), collectives_.end(), [&](const CollectiveCounters& c) {
      return c.collective == collective && c.algorithm == algorithm;
    });
    if (entry == collectives_.end())
      entry = collectives_.insert(collectives_.end(),
                                  CollectiveCounters{std::string(collective), std::string(algorithm)});
    ++entry->calls;
    entry->failures += ok ? 0 : 1;
    entry->bytes += bytes;
    entry->seconds += seconds;
    const auto bucket = std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds);
    if (bucket != kLatencyBuckets.end()) ++entry->buckets[static_cast<size_t>(bucket - kLatencyBuckets.begin())];
  }
  if (trace_)
    trace_->slice(trace_track_, collective, started, now,
                  fmt::format("\"algorithm\":\"{}\",\"bytes\":{},\"ok\":{}", algorithm, bytes, ok));
}

std::string CommMetrics::labels() const {
  return fmt::format("comm=\"{}\",comm_id=\"{}\",rank=\"{}\"", escape_label(comm_name_), comm_id_, rank_);
}

void CommMetrics::render(std::map<std::string, std::string>& families) const {
  render_links(families);
  render_collectives(families);
}

void CommMetrics::render_links(std::map<std::string, std::string>& families) const {
  const std::string comm = labels();
  for (const LinkCounters& link : links_) {
    // A lane that carried nothing (most of kMaxUcxLanes) is not worth a series.
    if (link.lane >= 0 && link.messages[kSend].get() + link.messages[kReceive].get() + link.errors.get() == 0)
      continue;
    const std::string base = comm + "," + link_labels(link);
    for (int d = kSend; d <= kReceive; ++d) {
      const std::string labels = fmt::format("{},direction=\"{}\"", base, direction_name(d));
      families["strata_link_bytes_total"] += fmt::format("strata_link_bytes_total{{{}}} {}\n", labels, link.bytes[d].get());
      families["strata_link_messages_total"] +=
          fmt::format("strata_link_messages_total{{{}}} {}\n", labels, link.messages[d].get());
      families["strata_link_busy_seconds_total"] += fmt::format("strata_link_busy_seconds_total{{{}}} {}\n", labels,
                                                                number(static_cast<double>(link.busy_ns[d].get()) * 1e-9));
    }
    families["strata_link_errors_total"] += fmt::format("strata_link_errors_total{{{}}} {}\n", base, link.errors.get());
    if (link.lane >= 0) continue;
    families["strata_link_model_bytes_per_second"] +=
        fmt::format("strata_link_model_bytes_per_second{{{}}} {}\n", base, number(link.model_bytes_per_s.load()));
    families["strata_link_model_latency_seconds"] +=
        fmt::format("strata_link_model_latency_seconds{{{}}} {}\n", base, number(link.model_latency_s.load()));
  }
}

void CommMetrics::render_collectives(std::map<std::string, std::string>& families) const {
  const std::string comm = labels();
  const int64_t since = running_since_ns_.load(std::memory_order_relaxed);
  families["strata_link_model_changes_total"] += fmt::format("strata_link_model_changes_total{{{}}} {}\n", comm, replans_.get());
  families["strata_collective_running_seconds"] += fmt::format(
      "strata_collective_running_seconds{{{}}} {}\n", comm, number(since == 0 ? 0 : static_cast<double>(now_ns() - since) * 1e-9));
  for (const CollectiveCounters& c : collectives()) {
    const std::string labels = fmt::format("{},collective=\"{}\",algorithm=\"{}\"", comm, c.collective,
                                           escape_label(c.algorithm));
    families["strata_collective_calls_total"] += fmt::format("strata_collective_calls_total{{{}}} {}\n", labels, c.calls);
    families["strata_collective_failures_total"] +=
        fmt::format("strata_collective_failures_total{{{}}} {}\n", labels, c.failures);
    families["strata_collective_bytes_total"] += fmt::format("strata_collective_bytes_total{{{}}} {}\n", labels, c.bytes);
    std::string& histogram = families["strata_collective_seconds"];
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += c.buckets[i];
      histogram += fmt::format("strata_collective_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                               number(kLatencyBuckets[i]), cumulative);
    }
    histogram += fmt::format("strata_collective_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels, c.calls);
    histogram += fmt::format("strata_collective_seconds_sum{{{}}} {}\n", labels, number(c.seconds));
    histogram += fmt::format("strata_collective_seconds_count{{{}}} {}\n", labels, c.calls);
  }
}

uint64_t CommMetrics::bytes(LinkKind kind, Direction direction) const {
  uint64_t total = 0;
  for (const LinkCounters& link : links_)
    if (link.kind == kind && link.lane < 0) total += link.bytes[direction].get();
  return total;
}

std::vector<CollectiveCounters> CommMetrics::collectives() const {
  std::lock_guard lock(collectives_mutex_);
  return collectives_;
}

void for_each_comm(const std::function<void(const CommMetrics&)>& visit) {
  std::lock_guard lock(registry().mutex);
  for (const CommMetrics* metrics : registry().comms) visit(*metrics);
}

}  // namespace strata::runtime::telemetry
