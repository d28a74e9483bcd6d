#include "common/datatype.h"

#include <array>
#include <cstring>
#include <type_traits>

#include "common/small_float.h"

namespace strata {
namespace {

struct DataTypeInfo {
  std::string_view name;
  size_t size;
  bool floating;
};

// Names as nccl-tests prints them, so our harness output lines up with theirs.
constexpr std::array<DataTypeInfo, kDataTypeCount> kDataTypes{{
    {"int8", 1, false},
    {"uint8", 1, false},
    {"int32", 4, false},
    {"uint32", 4, false},
    {"int64", 8, false},
    {"uint64", 8, false},
    {"half", 2, true},
    {"float", 4, true},
    {"double", 8, true},
    {"bfloat16", 2, true},
    {"f8e4m3", 1, true},
    {"f8e5m2", 1, true},
}};

constexpr std::array<std::string_view, kReduceOpCount> kReduceOps{"sum", "prod", "max", "min"};

}  // namespace

size_t datatype_size(DataType type) { return kDataTypes[static_cast<int>(type)].size; }
std::string_view datatype_name(DataType type) { return kDataTypes[static_cast<int>(type)].name; }
bool is_floating(DataType type) { return kDataTypes[static_cast<int>(type)].floating; }

std::optional<DataType> parse_datatype(std::string_view name) {
  for (int i = 0; i < kDataTypeCount; ++i)
    if (kDataTypes[i].name == name) return static_cast<DataType>(i);
  if (name == "float16") return DataType::kFloat16;
  if (name == "float32") return DataType::kFloat32;
  if (name == "float64") return DataType::kFloat64;
  if (name == "bf16") return DataType::kBFloat16;
  return std::nullopt;
}

namespace {

template <typename T>
void store_scalar(double value, unsigned char* out) {
  T element;
  if constexpr (std::is_arithmetic_v<T>) {
    element = static_cast<T>(value);
  } else {
    element = T::from_float(static_cast<float>(value));
  }
  std::memcpy(out, &element, sizeof(T));
}

}  // namespace

void encode_scalar(double value, DataType type, unsigned char* out) {
  switch (type) {
    case DataType::kInt8: return store_scalar<int8_t>(value, out);
    case DataType::kUint8: return store_scalar<uint8_t>(value, out);
    case DataType::kInt32: return store_scalar<int32_t>(value, out);
    case DataType::kUint32: return store_scalar<uint32_t>(value, out);
    case DataType::kInt64: return store_scalar<int64_t>(value, out);
    case DataType::kUint64: return store_scalar<uint64_t>(value, out);
    case DataType::kFloat16: return store_scalar<Half>(value, out);
    case DataType::kFloat32: return store_scalar<float>(value, out);
    case DataType::kFloat64: return store_scalar<double>(value, out);
    case DataType::kBFloat16: return store_scalar<BFloat16>(value, out);
    case DataType::kFloat8E4M3: return store_scalar<Float8E4M3>(value, out);
    case DataType::kFloat8E5M2: return store_scalar<Float8E5M2>(value, out);
  }
}

std::string_view reduce_op_name(ReduceOp op) { return kReduceOps[static_cast<int>(op)]; }

std::optional<ReduceOp> parse_reduce_op(std::string_view name) {
  for (int i = 0; i < kReduceOpCount; ++i)
    if (kReduceOps[i] == name) return static_cast<ReduceOp>(i);
  return std::nullopt;
}

}  // namespace strata
