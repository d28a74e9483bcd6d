// STRATA_TOPO_FILE: a JSON description of which hosts form which site, and
// optionally the distance of each site pair:
//   {"sites": [{"name": "eu", "hosts": ["node1", "node2"]}, ...],
//    "links": [{"a": "eu", "b": "us", "rtt_ms": 80, "gbps": 10}]}
// Hosts are host identities (STRATA_HOSTID, or hostname:netns-inode).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::topology {

struct SiteSpec {
  std::string name;
  std::vector<std::string> hosts;
};

struct LinkSpec {
  int site_a = 0, site_b = 0;  // indices into sites
  double rtt_ms = 0;
  double gbps = 0;  // 0 = not given
};

struct TopologyFile {
  std::string path;  // for error messages
  std::vector<SiteSpec> sites;
  std::vector<LinkSpec> links;
  uint64_t content_hash = 0;  // of the file's bytes: ranks compare it to catch different files

  std::optional<int> site_of_host(std::string_view host) const;
};

// Throws Error(kInvalidArgument) naming `path` and the field (e.g.
// "sites[1].hosts[0]") for malformed JSON, wrong types, duplicate site names,
// a host in two sites, or a link to an unknown site.
TopologyFile parse_topology_file(std::string_view json_text, const std::string& path);
TopologyFile load_topology_file(const std::string& path);

// FNV-1a (64 bit) of the text: cheap, and any edit changes it.
uint64_t topology_file_hash(std::string_view text);

}  // namespace strata::topology
