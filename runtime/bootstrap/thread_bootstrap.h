// A bootstrap for ranks that are threads of one process: allgather is a
// barrier on a condition variable. Used by tests and in-process communicators.
#pragma once

#include <memory>

#include "runtime/bootstrap/bootstrap.h"

namespace strata::runtime {

class ThreadBootstrapGroup {
 public:
  // `timeout_s` bounds each allgather: a rank waiting longer for the others
  // gets Error(kTimeout) naming how many arrived, and the group is broken.
  ThreadBootstrapGroup(int nranks, double timeout_s);
  ~ThreadBootstrapGroup();

  int size() const;

  // The bootstrap for `rank`; each rank may join once. The returned object
  // keeps the shared state alive, so it may outlive the group.
  std::unique_ptr<Bootstrap> join(int rank);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace strata::runtime
