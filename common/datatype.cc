#include "common/datatype.h"

#include <array>
#include <cstring>

#include "common/reduce_functors.h"

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

void encode_scalar(double value, DataType type, unsigned char* out) {
  visit_datatype(type, [&]<typename T>() {
    const T element = narrow<T>(static_cast<ComputeType<T>>(value));
    std::memcpy(out, &element, sizeof(T));
  });
}

std::string_view reduce_op_name(ReduceOp op) { return kReduceOps[static_cast<int>(op)]; }

std::optional<ReduceOp> parse_reduce_op(std::string_view name) {
  for (int i = 0; i < kReduceOpCount; ++i)
    if (kReduceOps[i] == name) return static_cast<ReduceOp>(i);
  return std::nullopt;
}

}  // namespace strata
