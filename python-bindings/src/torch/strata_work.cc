#include "strata_work.h"

#include <ATen/core/jit_type.h>

namespace strata::torch_backend {

StrataWork::StrataWork(int rank, c10d::OpType type, const char* profiling_title, std::vector<at::Tensor> outputs)
    : c10d::Work(rank, type, profiling_title),
      outputs_(std::move(outputs)),
      future_(c10::make_intrusive<c10::ivalue::Future>(c10::ListType::create(c10::TensorType::get()))) {}

void StrataWork::complete(std::exception_ptr error) {
  // The future first: whoever wait() wakes may read it at once.
  if (error) {
    future_->setError(error);
  } else {
    future_->markCompleted(c10::IValue(outputs_));
  }
  finish(error);
}

}  // namespace strata::torch_backend
