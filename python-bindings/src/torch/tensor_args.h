// torch tensors as Strata buffers. A tensor the engine cannot use directly
// (not contiguous, not in host memory, or of a dtype reduced through a
// wider or reinterpreted one) is staged: the operation runs on a host
// tensor the engine can use, and the result is copied back afterwards.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include "common/datatype.h"
#include "common/error.h"

namespace strata::torch_backend {

// A tensor ready for the engine, and what to do with the result.
class Staged {
 public:
  Staged() = default;
  // `reducing`: the engine will reduce it (so bool, int16 and complex are
  // mapped); otherwise its bytes are only moved.
  Staged(const at::Tensor& user, bool reducing, const ErrorContext& context);

  void* data() const { return work_.data_ptr(); }
  uint64_t bytes() const { return work_.numel() * work_.element_size(); }
  uint64_t count() const { return reducing_ ? work_.numel() : bytes(); }
  DataType dtype() const { return dtype_; }
  at::ScalarType user_type() const { return user_.scalar_type(); }
  const at::Tensor& work() const { return work_; }
  // Copies the result into the user's tensor when it was staged.
  void finish() const;

 private:
  at::Tensor user_;
  at::Tensor work_;
  DataType dtype_ = DataType::kUint8;
  bool reducing_ = false;
  bool copy_back_ = false;
};

// How one torch reduction runs on the engine.
struct Reduction {
  ReduceOp op = ReduceOp::kSum;
  Finish finish{};
};

// Throws Error(kInvalidArgument) naming the op and dtype for the pairs the
// engine cannot do (bitwise ops on non-bool, max/min/prod on complex).
Reduction map_reduction(const c10d::ReduceOp& op, at::ScalarType user_type, DataType engine_type, int nranks,
                        const ErrorContext& context);

// Tensors of a list must agree with the first (dtype, numel).
void check_same_shape(const std::vector<at::Tensor>& tensors, const at::Tensor& like, const char* name,
                      const ErrorContext& context);
// The one tensor of a single-device call.
const at::Tensor& single(const std::vector<at::Tensor>& tensors, const char* name, const ErrorContext& context);

}  // namespace strata::torch_backend
