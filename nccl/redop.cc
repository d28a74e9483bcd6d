#include "nccl/redop.h"

#include <cstring>

#include "nccl/api_guard.h"
#include "nccl/argument_check.h"
#include "nccl/comm_handle.h"
#include "nccl/profiling_alias.h"

namespace strata::nccl {
namespace {

// Far more than any program needs; the cap only stops a leak in a loop
// from growing the table without bound.
constexpr size_t kMaxPreMulSumOps = size_t{1} << 16;

bool is_custom(int op) { return op >= static_cast<int>(ncclNumOps); }

}  // namespace

ncclRedOp_t RedOpTable::add(DataType type, const void* scalar, const ErrorContext& context) {
  PreMulSum entry{type, Finish{FinishKind::kMultiply, 1, {}}};
  std::memcpy(entry.finish.scalar, scalar, datatype_size(type));
  std::lock_guard lock(mutex_);
  size_t slot = 0;
  while (slot < slots_.size() && slots_[slot]) ++slot;
  if (slot == kMaxPreMulSumOps) {
    fail(ErrorCode::kInvalidUsage, context, "{} PreMulSum operators exist on this communicator; destroy some first",
         kMaxPreMulSumOps);
  }
  if (slot == slots_.size()) slots_.emplace_back();
  slots_[slot] = entry;
  return static_cast<ncclRedOp_t>(static_cast<int>(ncclNumOps) + static_cast<int>(slot));
}

void RedOpTable::remove(int op, const ErrorContext& context) {
  if (!is_custom(op)) {
    fail(ErrorCode::kInvalidArgument, context,
         "op {} is not an operator made by ncclRedOpCreatePreMulSum (built-in operators cannot be destroyed)",
         op);
  }
  std::lock_guard lock(mutex_);
  const size_t slot = static_cast<size_t>(op) - ncclNumOps;
  if (slot >= slots_.size() || !slots_[slot]) {
    fail(ErrorCode::kInvalidArgument, context, "op {} is not a live PreMulSum operator of this communicator",
         op);
  }
  slots_[slot].reset();
}

Reduction RedOpTable::find(int op, DataType type, const ErrorContext& context) const {
  std::lock_guard lock(mutex_);
  const size_t slot = static_cast<size_t>(op) - ncclNumOps;
  if (slot >= slots_.size() || !slots_[slot]) {
    fail(ErrorCode::kInvalidArgument, context,
         "op {} is neither a built-in ncclRedOp_t (0..{}) nor a live PreMulSum operator of this communicator",
         op, static_cast<int>(ncclNumOps) - 1);
  }
  const PreMulSum& entry = *slots_[slot];
  if (entry.type != type) {
    fail(ErrorCode::kInvalidArgument, context, "op {} was created for datatype {} but is used with datatype {}",
         op, datatype_name(entry.type), datatype_name(type));
  }
  return Reduction{ReduceOp::kSum, entry.finish};
}

void RedOpTable::clear() {
  std::lock_guard lock(mutex_);
  slots_.clear();
  slots_.shrink_to_fit();
}

Reduction resolve_reduction(const ncclRedOp_t& op, DataType type, int nranks, const RedOpTable& table,
                            const ErrorContext& context) {
  const int value = raw_enum(op);
  if (value < 0) {
    fail(ErrorCode::kInvalidArgument, context, "op {} is not a valid ncclRedOp_t (negative)", value);
  }
  if (value == ncclAvg) {
    return Reduction{ReduceOp::kSum, Finish{FinishKind::kDivide, static_cast<uint64_t>(nranks), {}}};
  }
  if (is_custom(value)) return table.find(value, type, context);
  // 0..3 are numbered alike in ncclRedOp_t and strata::ReduceOp.
  return Reduction{static_cast<ReduceOp>(value), Finish{}};
}

}  // namespace strata::nccl

using namespace strata;
using namespace strata::nccl;

ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void* scalar, ncclDataType_t datatype,
                                      ncclScalarResidence_t residence, ncclComm_t comm) {
  static constexpr const char* kName = "ncclRedOpCreatePreMulSum";
  return guard(kName, [&] {
    const CommRef ref = usable_comm(comm, kName);
    check_out_pointer(op, "op", ref.context);
    const DataType type = check_datatype(datatype, ref.context);
    const int where = raw_enum(residence);
    if (where == ncclScalarDevice) {
      fail(ErrorCode::kInvalidUsage, ref.context,
           "residence ncclScalarDevice needs the CUDA path, which is not implemented yet; "
           "pass the scalar in host memory with ncclScalarHostImmediate");
    }
    if (where != ncclScalarHostImmediate) {
      fail(ErrorCode::kInvalidArgument, ref.context, "residence {} is not a valid ncclScalarResidence_t", where);
    }
    check_buffer(scalar, "scalar", datatype_size(type), ref.context);
    *op = redops_of(ref.handle).add(type, scalar, ref.context);
  });
}

ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm) {
  static constexpr const char* kName = "ncclRedOpDestroy";
  return guard(kName, [&] {
    const CommRef ref = queryable_comm(comm, kName);
    redops_of(ref.handle).remove(raw_enum(op), ref.context);
  });
}

STRATA_NCCL_PROFILING_ALIAS(ncclRedOpCreatePreMulSum)
STRATA_NCCL_PROFILING_ALIAS(ncclRedOpDestroy)
