#include "runtime/probe/topology_probe.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include <fmt/ranges.h>

#include "common/error.h"
#include "common/log.h"
#include "runtime/bootstrap/bootstrap.h"
#include "runtime/config/config.h"
#include "runtime/probe/link_probe.h"
#include "runtime/transport/transport.h"
#include "topology/site_assignment.h"

namespace strata::runtime {
namespace {

using Clock = LinkProbe::Clock;
using topology::LinkDistance;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

std::vector<LinkDistance> TransportLinkProber::probe(std::span<const int> peers,
                                                     const topology::ProbeOptions& options) {
  const Clock::time_point start = Clock::now();
  std::vector<std::unique_ptr<LinkProbe>> links;
  for (int peer : peers) links.push_back(std::make_unique<LinkProbe>(transport_, peer, options, start));
  const double hard_limit_s = std::max(timeout_s_, options.budget_s * 10);
  for (;;) {
    bool active = false;
    for (auto& link : links) {
      link->step();
      active |= !link->done();
    }
    if (!active) break;
    if (seconds_since(start) > hard_limit_s)
      fail(ErrorCode::kTimeout, {transport_.rank(), -1, "link probe"}, "probing {} peer(s) took more than {:.0f} s",
           links.size(), hard_limit_s);
    if (!transport_.progress()) transport_.wait_for_activity(std::chrono::microseconds(200));
  }
  // The last control or ack send of each link must leave before its buffer does.
  for (auto& link : links)
    while (!link->sends_finished()) {
      if (seconds_since(start) > hard_limit_s)
        fail(ErrorCode::kTimeout, {transport_.rank(), -1, "link probe"}, "probe sends still pending after {:.0f} s",
             hard_limit_s);
      transport_.progress();
    }
  std::vector<LinkDistance> results;
  for (auto& link : links) results.push_back(link->result());
  return results;
}

namespace {

constexpr size_t kSiteBytes = 64;
constexpr size_t kErrorBytes = 448;
constexpr size_t kPathBytes = 192;

// What each rank says about its own site settings: STRATA_SITE and, if
// reading STRATA_TOPO_FILE failed there, why.
struct SiteRecord {
  int32_t probe = 0;  // STRATA_PROBE and STRATA_PROBE_MS: every rank must agree
  int32_t probe_ms = 0;
  uint64_t file_hash = 0;  // of STRATA_TOPO_FILE's contents; 0 when unset
  char site[kSiteBytes] = {};
  char file[kPathBytes] = {};  // STRATA_TOPO_FILE as this rank names it
  char error[kErrorBytes] = {};
};

std::string text_of(const char* field, size_t bytes) { return std::string(field, strnlen(field, bytes)); }

// Every rank reads STRATA_TOPO_FILE itself; ranks given different files (or
// one copy edited on one host) would each assign sites from their own, so
// the contents must hash alike everywhere. Names every group of ranks.
void check_same_topology_file(const std::vector<SiteRecord>& records) {
  std::map<uint64_t, std::vector<int>> ranks_of_hash;
  for (int rank = 0; rank < static_cast<int>(records.size()); ++rank)
    ranks_of_hash[records[rank].file_hash].push_back(rank);
  if (ranks_of_hash.size() < 2) return;
  std::string groups;
  for (const auto& [hash, ranks] : ranks_of_hash) {
    const SiteRecord& first = records[ranks.front()];
    groups += groups.empty() ? "" : "; ";
    groups += hash == 0 ? fmt::format("rank(s) {} have it unset", fmt::join(ranks, ","))
                        : fmt::format("rank(s) {} read {} (contents hash {:016x})", fmt::join(ranks, ","),
                                      text_of(first.file, kPathBytes), hash);
  }
  fail(ErrorCode::kInvalidArgument, {-1, -1, "communicator creation"},
       "ranks disagree on STRATA_TOPO_FILE (the same file must reach every rank): {}", groups);
}

std::optional<topology::TopologyFile> exchange_site_settings(Bootstrap& bootstrap,
                                                             std::vector<std::string>& site_env_of_rank) {
  SiteRecord mine;
  mine.probe = config().probe;
  mine.probe_ms = config().probe_ms;
  std::optional<topology::TopologyFile> file;
  std::string error;
  if (config().site.size() >= kSiteBytes)
    error = fmt::format("STRATA_SITE='{}' is longer than {} characters", config().site, kSiteBytes - 1);
  std::memcpy(mine.site, config().site.data(), std::min(config().site.size(), kSiteBytes - 1));
  if (error.empty() && !config().topo_file.empty()) {
    try {
      file = topology::load_topology_file(config().topo_file);
      mine.file_hash = std::max<uint64_t>(file->content_hash, 1);  // 0 means "unset"
    } catch (const Error& e) {
      error = e.what();
    }
  }
  std::memcpy(mine.file, config().topo_file.data(), std::min(config().topo_file.size(), kPathBytes - 1));
  std::memcpy(mine.error, error.data(), std::min(error.size(), kErrorBytes - 1));
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(&mine, 1)));
  std::vector<SiteRecord> records(bootstrap.size());
  std::memcpy(records.data(), all.data(), records.size() * sizeof(SiteRecord));
  for (int rank = 0; rank < bootstrap.size(); ++rank) {
    const SiteRecord& record = records[rank];
    if (record.error[0] != '\0')
      fail(ErrorCode::kInvalidArgument, {rank, -1, "communicator creation"}, "rank {}: {}", rank,
           std::string(record.error, strnlen(record.error, kErrorBytes)));
    if (record.probe != mine.probe || record.probe_ms != mine.probe_ms)
      fail(ErrorCode::kInvalidArgument, {bootstrap.rank(), rank, "communicator creation"},
           "ranks disagree on probing: rank {} has STRATA_PROBE={} STRATA_PROBE_MS={}, rank {} has {} and {}",
           bootstrap.rank(), mine.probe, mine.probe_ms, rank, record.probe, record.probe_ms);
    site_env_of_rank.emplace_back(record.site, strnlen(record.site, kSiteBytes));
  }
  check_same_topology_file(records);
  return file;
}

// One link measurement as it travels in the allgather.
struct WireLink {
  double rtt_s = 0;
  double bandwidth_bytes_per_s = 0;
  double flags = 0;  // bit 0: RTT measured, bit 1: bandwidth measured
};

// Leaders probe each other; every rank receives every leader's row.
void probe_leaders(Bootstrap& bootstrap, Transport& transport, topology::Topology& topology) {
  const int rank = bootstrap.rank();
  const int nodes = topology.node_count;
  const std::vector<int> leaders = topology.node_leaders();
  const int my_node = topology.node_of_rank[rank];
  const topology::ProbeOptions options{.budget_s = config().probe_ms / 1e3};
  const Clock::time_point start = Clock::now();

  std::vector<WireLink> row(nodes);
  if (leaders[my_node] == rank) {
    std::vector<int> peers;
    for (int node = 0; node < nodes; ++node)
      if (node != my_node) peers.push_back(leaders[node]);
    TransportLinkProber prober(transport, config().timeout_s);
    const std::vector<LinkDistance> measured = prober.probe(peers, options);
    for (size_t i = 0, node = 0; i < measured.size(); ++i, ++node) {
      if (static_cast<int>(node) == my_node) ++node;
      row[node] = {measured[i].rtt_s, measured[i].bandwidth_bytes_per_s,
                   double((measured[i].rtt_measured ? 1 : 0) | (measured[i].bandwidth_measured ? 2 : 0))};
    }
  }
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(row)));
  topology.node_links.assign(nodes, std::vector<LinkDistance>(nodes));
  for (int node = 0; node < nodes; ++node) {
    const auto* leader_row = reinterpret_cast<const WireLink*>(all.data()) + leaders[node] * nodes;
    for (int other = 0; other < nodes; ++other) {
      const WireLink& link = leader_row[other];
      const int flags = static_cast<int>(link.flags);
      topology.node_links[node][other] = {.rtt_s = link.rtt_s,
                                          .bandwidth_bytes_per_s = link.bandwidth_bytes_per_s,
                                          .rtt_measured = (flags & 1) != 0,
                                          .bandwidth_measured = (flags & 2) != 0};
    }
  }
  // Only the lower rank of each pair (the pinger) times the link; mirror its
  // numbers so the matrix is complete (bandwidth is that of its direction).
  for (int i = 0; i < nodes; ++i)
    for (int j = 0; j < nodes; ++j)
      if (i != j && !topology.node_links[i][j].rtt_measured && leaders[j] < leaders[i])
        topology.node_links[i][j] = topology.node_links[j][i];
  topology.probe_seconds = seconds_since(start);
}

}  // namespace

void share_node_hardware(Bootstrap& bootstrap, topology::Topology& topology) {
  const int rank = bootstrap.rank();
  const std::vector<int> leaders = topology.node_leaders();
  std::string mine;
  if (leaders[topology.node_of_rank[rank]] == rank)
    mine = topology::node_hardware_to_json(topology::discover_node_hardware());
  // The bootstrap gathers equal lengths: first the lengths, then padded texts.
  const uint64_t length = mine.size();
  std::vector<uint64_t> lengths(bootstrap.size());
  const std::vector<std::byte> all_lengths = bootstrap.allgather(std::as_bytes(std::span(&length, 1)));
  std::memcpy(lengths.data(), all_lengths.data(), lengths.size() * sizeof(uint64_t));
  const uint64_t longest = std::max<uint64_t>(*std::max_element(lengths.begin(), lengths.end()), 1);
  mine.resize(longest, '\0');
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(mine)));
  topology.hardware_of_node.assign(topology.node_count, {});
  for (int node = 0; node < topology.node_count; ++node) {
    const int leader = leaders[node];
    const std::string_view text(reinterpret_cast<const char*>(all.data()) + leader * longest, lengths[leader]);
    topology.hardware_of_node[node] = topology::node_hardware_from_json(
        text, fmt::format("rank {} (leader of host '{}')", leader, topology.host_of_rank[leader]));
  }
}

void discover_sites_and_distances(Bootstrap& bootstrap, Transport& transport, topology::Topology& topology) {
  topology::SiteSources sources;
  sources.file = exchange_site_settings(bootstrap, sources.site_env_of_rank);
  if (config().probe && topology.node_count > 1) {
    probe_leaders(bootstrap, transport, topology);
    sources.node_links = topology.node_links;
    int pairs = 0, with_bandwidth = 0;
    for (int i = 0; i < topology.node_count; ++i)
      for (int j = 0; j < topology.node_count; ++j)
        if (i < j) ++pairs, with_bandwidth += topology.node_links[i][j].bandwidth_measured;
    topology.probe_note = fmt::format("probed {} leader pair(s) in {:.0f} ms (budget {} ms); bandwidth on {} of them",
                                      pairs, topology.probe_seconds * 1e3, config().probe_ms, with_bandwidth);
  } else {
    topology.probe_note = config().probe ? "one node: nothing to probe" : "probing disabled (STRATA_PROBE=0)";
  }
  topology::assign_sites(topology, sources);
  topology::summarize_distances(topology, sources.file ? &*sources.file : nullptr);
  log(LogLevel::kInfo, "rank {}: {} site(s) from {}; {}", bootstrap.rank(), topology.site_count,
      topology.site_source, topology.probe_note);
}

}  // namespace strata::runtime
