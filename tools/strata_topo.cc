// strata-topo: creates a communicator over MPI (so it runs under mpirun or
// `strata-sites run`) and prints what the topology layer found: sites ->
// hosts (NUMA domains, cores, GPUs, NICs) -> ranks, where the sites came from, and the measured RTT and
// bandwidth between sites and between node leaders. --json for scripts.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <mpi.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "common/error.h"
#include "runtime/bootstrap/mpi_bootstrap.h"
#include "runtime/communicator/communicator.h"

namespace strata::runtime {
namespace {

using nlohmann::json;
using topology::LinkDistance;
using topology::Topology;

json link_json(const LinkDistance& link) {
  json out{{"rtt_ms", link.rtt_s * 1e3}, {"rtt_measured", link.rtt_measured}};
  out["gbps"] = link.bandwidth_bytes_per_s * 8 / 1e9;
  out["bandwidth_measured"] = link.bandwidth_measured;
  out["bdp_bytes"] = link.bdp_bytes();
  return out;
}

json topology_json(const Topology& topology, double create_seconds) {
  json sites = json::array();
  for (int site = 0; site < topology.site_count; ++site) {
    json hosts = json::array();
    for (int node = 0; node < topology.node_count; ++node) {
      if (topology.site_of_node[node] != site) continue;
      const std::vector<int> ranks = topology.ranks_of_node(node);
      json host{{"host", topology.host_of_rank[ranks.front()]}, {"node", node}, {"ranks", ranks}};
      if (node < static_cast<int>(topology.hardware_of_node.size()))
        host["hardware"] = json::parse(topology::node_hardware_to_json(topology.hardware_of_node[node]));
      hosts.push_back(host);
    }
    sites.push_back({{"name", topology.site_names[site]}, {"hosts", hosts}});
  }
  json site_links = json::array();
  for (int a = 0; a < topology.site_count; ++a)
    for (int b = a + 1; b < topology.site_count; ++b) {
      json link = link_json(topology.distances.between_sites(a, b));
      link["a"] = topology.site_names[a];
      link["b"] = topology.site_names[b];
      site_links.push_back(link);
    }
  json node_links = json::array();
  for (int i = 0; i < static_cast<int>(topology.node_links.size()); ++i)
    for (int j = 0; j < static_cast<int>(topology.node_links.size()); ++j)
      if (i != j) {
        json link = link_json(topology.node_links[i][j]);
        link["from_node"] = i;
        link["to_node"] = j;
        node_links.push_back(link);
      }
  return {{"ranks", topology.node_of_rank.size()},
          {"nodes", topology.node_count},
          {"site_source", topology.site_source},
          {"sites", sites},
          {"intra_node", link_json(topology.distances.intra_node)},
          {"intra_site", link_json(topology.distances.intra_site)},
          {"site_links", site_links},
          {"node_links", node_links},
          {"probe_note", topology.probe_note},
          {"probe_seconds", topology.probe_seconds},
          {"create_seconds", create_seconds}};
}

std::string cell(const LinkDistance& link) {
  if (!link.rtt_measured) return fmt::format("({:.2f} ms)", link.rtt_s * 1e3);
  if (!link.bandwidth_measured) return fmt::format("{:.2f} ms, bw -", link.rtt_s * 1e3);
  return fmt::format("{:.2f} ms, {:.2f} Gb/s", link.rtt_s * 1e3, link.bandwidth_bytes_per_s * 8 / 1e9);
}

std::string numa_list(const std::vector<int>& numa) {
  return numa.empty() ? "NUMA ?" : fmt::format("NUMA {}", fmt::join(numa, ","));
}

// Under each host: its NUMA domains, then one line per GPU and NIC.
void print_hardware(const topology::NodeHardware& hardware) {
  fmt::print("    {}\n", topology::node_hardware_summary(hardware));
  for (const topology::NumaDomain& domain : hardware.numa)
    fmt::print("      numa {:<3} {:>4} cores {:>8.1f} GiB\n", domain.os_index, domain.cores,
               static_cast<double>(domain.memory_bytes) / (1ull << 30));
  for (const topology::NodeDevice& gpu : hardware.gpus)
    fmt::print("      gpu  {:<14} {} {} ({})\n", gpu.name, gpu.pci_bus_id, gpu.model, numa_list(gpu.numa));
  for (const topology::NodeDevice& nic : hardware.nics)
    fmt::print("      nic  {:<14} {} {} ({})\n", nic.name, nic.pci_bus_id, nic.model, numa_list(nic.numa));
}

void print_table(const Topology& topology, double create_seconds) {
  fmt::print("{} rank(s) on {} node(s) in {} site(s)\n", topology.node_of_rank.size(), topology.node_count,
             topology.site_count);
  fmt::print("sites from: {}\nprobe: {}\ncommunicator created in {:.0f} ms\n\n", topology.site_source,
             topology.probe_note, create_seconds * 1e3);
  for (int site = 0; site < topology.site_count; ++site) {
    fmt::print("site {} '{}'\n", site, topology.site_names[site]);
    for (int node = 0; node < topology.node_count; ++node) {
      if (topology.site_of_node[node] != site) continue;
      fmt::print("  host {:<32} ranks {}\n", topology.host_of_rank[topology.ranks_of_node(node).front()],
                 fmt::join(topology.ranks_of_node(node), ","));
      if (node < static_cast<int>(topology.hardware_of_node.size())) print_hardware(topology.hardware_of_node[node]);
    }
  }
  fmt::print("\nbetween sites (RTT median, one-flow bandwidth; parentheses: assumed, not measured):\n{:>12}", "");
  for (int b = 0; b < topology.site_count; ++b) fmt::print(" {:>24}", topology.site_names[b]);
  fmt::print("\n");
  for (int a = 0; a < topology.site_count; ++a) {
    fmt::print("{:>12}", topology.site_names[a]);
    for (int b = 0; b < topology.site_count; ++b) fmt::print(" {:>24}", cell(topology.distances.between_sites(a, b)));
    fmt::print("\n");
  }
  fmt::print("intra-node: {}\n", cell(topology.distances.intra_node));
}

int run(int argc, char** argv) {
  CLI::App app{"strata-topo: sites, hosts, ranks and measured link distances of this job"};
  bool as_json = false;
  app.add_flag("--json", as_json, "print JSON instead of tables");
  CLI11_PARSE(app, argc, argv);

  MpiBootstrap bootstrap(MPI_COMM_WORLD);
  const auto start = std::chrono::steady_clock::now();
  auto comm = Communicator::create(bootstrap, {.name = "strata-topo"});
  const double create_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  comm->barrier();
  if (comm->rank() == 0) {
    if (as_json) fmt::print("{}\n", topology_json(comm->topology(), create_seconds).dump());
    else print_table(comm->topology(), create_seconds);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace strata::runtime

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rc = 0;
  try {
    rc = strata::runtime::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "strata-topo: %s\n", error.what());
    rc = 1;
  }
  if (rc != 0) MPI_Abort(MPI_COMM_WORLD, rc);
  MPI_Finalize();
  return rc;
}
