// What the ranks of a communicator know about where each of them runs.
// (Sites and measured link distances come with the topology issue.)
#pragma once

#include <string>
#include <vector>

namespace strata::topology {

struct Topology {
  std::vector<std::string> host_of_rank;  // host identity per rank
  std::vector<int> node_of_rank;          // dense node index per rank, in first-seen order
  int node_count = 0;

  static Topology from_host_ids(std::vector<std::string> host_ids);
  int ranks_on_node(int node) const;
  std::vector<int> ranks_of_node(int node) const;
};

}  // namespace strata::topology
