#include "collectives/tree.h"

namespace strata::collectives {

BinomialTree BinomialTree::of(int rank, int root, int nranks) {
  BinomialTree tree;
  const int relative = (rank - root + nranks) % nranks;
  auto real = [&](int v) { return (v + root) % nranks; };
  // A rank's subtree spans the bits below its lowest set bit.
  int mask = 1;
  while (mask < nranks && !(relative & mask)) {
    if (relative + mask < nranks) tree.children.push_back(real(relative + mask));
    mask <<= 1;
  }
  if (relative != 0) tree.parent = real(relative - mask);
  return tree;
}

}  // namespace strata::collectives
