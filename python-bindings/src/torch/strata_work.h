// One torch.distributed operation in flight on Strata's worker thread. It
// completes through c10d::Work's own state (wait(timeout), isCompleted,
// exception) and a c10 Future whose value is the output tensors, which is
// what DistributedDataParallel's reducer and comm hooks chain on.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <vector>

namespace strata::torch_backend {

class StrataWork : public c10d::Work {
 public:
  StrataWork(int rank, c10d::OpType type, const char* profiling_title, std::vector<at::Tensor> outputs);

  // Called once by the worker thread: success (nullptr) or the error.
  void complete(std::exception_ptr error);

  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override { return future_; }
  std::vector<at::Tensor> result() override { return outputs_; }

 private:
  std::vector<at::Tensor> outputs_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
};

}  // namespace strata::torch_backend
