// Element types and reduction operators. Numbering follows NCCL's
// ncclDataType_t / ncclRedOp_t so the C boundary converts by range check only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace strata {

enum class DataType : uint8_t {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kFloat32 = 7,
  kFloat64 = 8,
  kBFloat16 = 9,
  kFloat8E4M3 = 10,
  kFloat8E5M2 = 11,
};
inline constexpr int kDataTypeCount = 12;

// The element-wise operators a schedule applies. Average and pre-multiplied
// sum are a sum followed by a finishing scale (see Finish), not operators.
enum class ReduceOp : uint8_t { kSum = 0, kProd = 1, kMax = 2, kMin = 3 };
inline constexpr int kReduceOpCount = 4;

// The scaling of ncclAvg and PreMulSum. The schedule layer applies it once to
// a fully reduced result; the runtime applies it to each contribution before
// the sum for floating types (finish_before_sum in host_reduce.h).
enum class FinishKind : uint8_t {
  kNone,
  kDivide,    // integer types: truncating division by `divisor`; floats: multiply by 1/divisor
  kMultiply,  // multiply by `scalar` (raw bytes of one element of the datatype)
};

struct Finish {
  FinishKind kind = FinishKind::kNone;
  uint64_t divisor = 1;
  alignas(8) unsigned char scalar[8] = {};
};

size_t datatype_size(DataType type);
std::string_view datatype_name(DataType type);
std::optional<DataType> parse_datatype(std::string_view name);
bool is_floating(DataType type);

// One element of `type` holding `value` (rounded, or cast for integers),
// as the raw bytes Finish::scalar takes.
void encode_scalar(double value, DataType type, unsigned char* out);

std::string_view reduce_op_name(ReduceOp op);
std::optional<ReduceOp> parse_reduce_op(std::string_view name);

}  // namespace strata
