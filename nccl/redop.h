// Reduction operators at the C boundary: NCCL's built-in ncclRedOp_t values
// and the per-communicator PreMulSum operators, mapped onto Strata's
// element-wise operator plus a finishing step.
#pragma once

#include <mutex>
#include <optional>
#include <vector>

#include "common/datatype.h"
#include "common/error.h"
#include "nccl.h"

namespace strata::nccl {

struct Reduction {
  ReduceOp op = ReduceOp::kSum;
  Finish finish{};
};

// The PreMulSum operators one communicator created. Operator k is the value
// ncclNumOps + k, as in NCCL, so values stay valid while others come and go.
class RedOpTable {
 public:
  // Copies one element of `type` from `scalar` (host memory). Operators
  // are passed around as ints (see raw_enum in argument_check.h).
  ncclRedOp_t add(DataType type, const void* scalar, const ErrorContext& context);
  void remove(int op, const ErrorContext& context);
  // The reduction for custom operator `op` used on elements of `type`.
  Reduction find(int op, DataType type, const ErrorContext& context) const;
  void clear();

 private:
  struct PreMulSum {
    DataType type;
    Finish finish;
  };
  mutable std::mutex mutex_;
  std::vector<std::optional<PreMulSum>> slots_;
};

// Maps `op` for a collective on `type` over `nranks` ranks. ncclAvg is a sum
// with a divide-by-nranks finish; a PreMulSum operator a sum with a
// multiply finish. For floating types the runtime applies either to each
// rank's input before the sum, as NCCL does (finish_before_sum in
// common/host_reduce.h). Throws kInvalidArgument naming `op`.
Reduction resolve_reduction(const ncclRedOp_t& op, DataType type, int nranks, const RedOpTable& table,
                            const ErrorContext& context);

}  // namespace strata::nccl
