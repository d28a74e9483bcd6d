#include "topology/site_assignment.h"

#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/ranges.h>

#include "common/error.h"
#include "topology/link_estimates.h"

namespace strata::topology {
namespace {

[[noreturn]] void disagree(int rank, const std::string& what) {
  fail(ErrorCode::kInvalidArgument, {rank, -1, "site assignment"}, "{}", what);
}

std::optional<int> as_index(const std::string& text) {
  int value = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// Every node takes the site of its ranks; ranks of one node must agree.
void set_node_sites(Topology& topology, const std::vector<int>& site_of_rank, const std::string& source) {
  topology.site_of_node.assign(topology.node_count, -1);
  for (int rank = 0; rank < static_cast<int>(site_of_rank.size()); ++rank) {
    int& site = topology.site_of_node[topology.node_of_rank[rank]];
    if (site >= 0 && site != site_of_rank[rank])
      disagree(rank, fmt::format("{}: rank {} on host '{}' is in site '{}', but another rank on that host is in "
                                 "site '{}'",
                                 source, rank, topology.host_of_rank[rank], topology.site_names[site_of_rank[rank]],
                                 topology.site_names[site]));
    site = site_of_rank[rank];
  }
  topology.site_count = static_cast<int>(topology.site_names.size());
  topology.site_source = source;
}

void assign_from_env(Topology& topology, const std::vector<std::string>& env) {
  std::vector<int> unset;
  for (int rank = 0; rank < static_cast<int>(env.size()); ++rank)
    if (env[rank].empty()) unset.push_back(rank);
  if (!unset.empty())
    disagree(unset.front(), fmt::format("STRATA_SITE is set on {} of {} ranks; unset on rank(s) {}",
                                        env.size() - unset.size(), env.size(), fmt::join(unset, ", ")));
  const bool all_indices = std::all_of(env.begin(), env.end(), [](const std::string& s) { return as_index(s); });
  std::vector<int> site_of_rank;
  topology.site_names.clear();
  if (all_indices) {
    int max_index = 0;
    for (const std::string& value : env) max_index = std::max(max_index, *as_index(value));
    std::vector<bool> used(max_index + 1, false);
    for (const std::string& value : env) used[*as_index(value)] = true;
    for (int site = 0; site <= max_index; ++site) {
      if (!used[site])
        disagree(-1, fmt::format("STRATA_SITE: site {} has no ranks (sites are numbered 0..{} with none skipped)",
                                 site, max_index));
      topology.site_names.push_back("site" + std::to_string(site));
    }
    for (const std::string& value : env) site_of_rank.push_back(*as_index(value));
  } else {
    std::map<std::string, int> index;
    for (const std::string& value : env) {
      const auto [it, inserted] = index.emplace(value, static_cast<int>(topology.site_names.size()));
      if (inserted) topology.site_names.push_back(value);
      site_of_rank.push_back(it->second);
    }
  }
  set_node_sites(topology, site_of_rank, "STRATA_SITE");
}

void assign_from_file(Topology& topology, const TopologyFile& file) {
  topology.site_names.clear();
  for (const SiteSpec& site : file.sites) topology.site_names.push_back(site.name);
  std::vector<int> site_of_rank;
  std::vector<bool> used(file.sites.size(), false);
  for (int rank = 0; rank < static_cast<int>(topology.host_of_rank.size()); ++rank) {
    const std::optional<int> site = file.site_of_host(topology.host_of_rank[rank]);
    if (!site)
      disagree(rank, fmt::format("topology file {}: rank {} runs on host '{}', which no site lists", file.path, rank,
                                 topology.host_of_rank[rank]));
    used[*site] = true;
    site_of_rank.push_back(*site);
  }
  for (size_t site = 0; site < used.size(); ++site)
    if (!used[site])
      disagree(-1, fmt::format("topology file {}: sites[{}] '{}' has no ranks in this job", file.path, site,
                               file.sites[site].name));
  set_node_sites(topology, site_of_rank, "topology file " + file.path);
}

void assign_from_probe(Topology& topology, const SiteSources& sources) {
  std::vector<std::vector<double>> rtt_ms(topology.node_count, std::vector<double>(topology.node_count, 0.0));
  for (int i = 0; i < topology.node_count; ++i)
    for (int j = 0; j < topology.node_count; ++j)
      if (i != j) {
        const LinkDistance& link = sources.node_links[i][j];
        if (!link.rtt_measured)
          fail(ErrorCode::kTimeout, {-1, -1, "site clustering"},
               "no RTT was measured between nodes {} and {} within the probe budget (raise STRATA_PROBE_MS, or set "
               "STRATA_SITE / STRATA_TOPO_FILE)",
               i, j);
        rtt_ms[i][j] = link.rtt_s * 1e3;
      }
  const SiteClustering clustering = cluster_sites(rtt_ms, sources.rule);
  topology.site_of_node = clustering.site_of_node;
  topology.site_count = clustering.site_count;
  topology.site_names.clear();
  for (int site = 0; site < clustering.site_count; ++site) topology.site_names.push_back("site" + std::to_string(site));
  topology.site_source = "probed RTT clustering (" + clustering.explanation + ")";
}

}  // namespace

void assign_sites(Topology& topology, const SiteSources& sources) {
  const bool any_env = std::any_of(sources.site_env_of_rank.begin(), sources.site_env_of_rank.end(),
                                   [](const std::string& value) { return !value.empty(); });
  if (any_env) return assign_from_env(topology, sources.site_env_of_rank);
  if (sources.file) return assign_from_file(topology, *sources.file);
  if (!sources.node_links.empty() && topology.node_count > 1) return assign_from_probe(topology, sources);
  topology.site_of_node.assign(topology.node_count, 0);
  topology.site_names = {"site0"};
  topology.site_count = 1;
  topology.site_source = topology.node_count > 1 ? "default (one site: not probed and not configured)"
                                                 : "default (one node)";
}

void summarize_distances(Topology& topology, const TopologyFile* file) {
  DistanceModel model(topology.site_count);
  if (file != nullptr && file->sites.size() == static_cast<size_t>(topology.site_count))
    for (const LinkSpec& link : file->links)
      model.set_between_sites(link.site_a, link.site_b,
                              {.rtt_s = link.rtt_ms * 1e-3, .bandwidth_bytes_per_s = link.gbps * 1e9 / 8});
  for (int a = 0; a < topology.site_count; ++a)
    for (int b = a; b < topology.site_count; ++b) {
      std::vector<double> rtts, bandwidths;
      for (int i = 0; i < static_cast<int>(topology.node_links.size()); ++i)
        for (int j = 0; j < static_cast<int>(topology.node_links.size()); ++j) {
          if (i == j || topology.site_of_node[i] != a || topology.site_of_node[j] != b) continue;
          const LinkDistance& link = topology.node_links[i][j];
          if (link.rtt_measured) rtts.push_back(link.rtt_s);
          if (link.bandwidth_measured) bandwidths.push_back(link.bandwidth_bytes_per_s);
        }
      if (rtts.empty() && bandwidths.empty()) continue;
      LinkDistance distance = model.between_sites(a, b);
      if (!rtts.empty()) distance.rtt_s = median(rtts), distance.rtt_measured = true;
      if (!bandwidths.empty())
        distance.bandwidth_bytes_per_s = median(bandwidths), distance.bandwidth_measured = true;
      model.set_between_sites(a, b, distance);
    }
  topology.distances = model;
}

}  // namespace strata::topology
