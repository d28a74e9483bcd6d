// Binomial tree over ranks relative to a root, shared by tree broadcast and
// tree reduce.
#pragma once

#include <vector>

namespace strata::collectives {

struct BinomialTree {
  int parent = -1;            // real rank, -1 at the root
  std::vector<int> children;  // real ranks, nearest subtree first

  static BinomialTree of(int rank, int root, int nranks);
};

}  // namespace strata::collectives
