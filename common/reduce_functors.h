// Element-wise reduction and finishing math, written once for the host and
// CUDA kernels. Small floats are widened to float, combined, rounded back.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/datatype.h"
#include "common/host_device.h"
#include "common/small_float.h"

namespace strata {

template <typename T>
inline constexpr bool kIsSmallFloat = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16> ||
                                      std::is_same_v<T, Float8E4M3> || std::is_same_v<T, Float8E5M2>;

// The type arithmetic happens in: float for the small formats, T otherwise.
template <typename T>
using ComputeType = std::conditional_t<kIsSmallFloat<T>, float, T>;

template <typename T>
STRATA_HD ComputeType<T> widen(T value) {
  if constexpr (kIsSmallFloat<T>) return value.to_float();
  else return value;
}

template <typename T>
STRATA_HD T narrow(ComputeType<T> value) {
  if constexpr (kIsSmallFloat<T>) return T::from_float(value);
  else return static_cast<T>(value);
}

template <ReduceOp kOp>
struct Combine {
  template <typename C>
  STRATA_HD C operator()(C a, C b) const {
    if constexpr (kOp == ReduceOp::kSum) return static_cast<C>(a + b);
    else if constexpr (kOp == ReduceOp::kProd) return static_cast<C>(a * b);
    else if constexpr (kOp == ReduceOp::kMax) return a < b ? b : a;
    else return b < a ? b : a;
  }
};

template <typename T, ReduceOp kOp>
STRATA_HD T reduce_element(T a, T b) {
  return narrow<T>(Combine<kOp>{}(widen(a), widen(b)));
}

// Average and PreMulSum finish a sum: integers divide (truncating, as NCCL
// does); floats multiply by the reciprocal or the user's scalar.
template <typename T>
STRATA_HD T divide_element(T value, uint64_t divisor) {
  using C = ComputeType<T>;
  if constexpr (std::is_integral_v<C>) return static_cast<T>(value / static_cast<C>(divisor));
  else return narrow<T>(widen(value) * (C(1) / static_cast<C>(divisor)));
}

template <typename T>
STRATA_HD T multiply_element(T value, T scalar) {
  return narrow<T>(static_cast<ComputeType<T>>(widen(value) * widen(scalar)));
}

// Calls fn.template operator()<T>() with T the storage type for `type`.
template <typename Fn>
decltype(auto) visit_datatype(DataType type, Fn&& fn) {
  switch (type) {
    case DataType::kInt8: return fn.template operator()<int8_t>();
    case DataType::kUint8: return fn.template operator()<uint8_t>();
    case DataType::kInt32: return fn.template operator()<int32_t>();
    case DataType::kUint32: return fn.template operator()<uint32_t>();
    case DataType::kInt64: return fn.template operator()<int64_t>();
    case DataType::kUint64: return fn.template operator()<uint64_t>();
    case DataType::kFloat16: return fn.template operator()<Half>();
    case DataType::kFloat32: return fn.template operator()<float>();
    case DataType::kFloat64: return fn.template operator()<double>();
    case DataType::kBFloat16: return fn.template operator()<BFloat16>();
    case DataType::kFloat8E4M3: return fn.template operator()<Float8E4M3>();
    case DataType::kFloat8E5M2: return fn.template operator()<Float8E5M2>();
  }
  return fn.template operator()<uint8_t>();
}

// Calls fn.template operator()<kOp>() for the runtime `op`.
template <typename Fn>
decltype(auto) visit_reduce_op(ReduceOp op, Fn&& fn) {
  switch (op) {
    case ReduceOp::kSum: return fn.template operator()<ReduceOp::kSum>();
    case ReduceOp::kProd: return fn.template operator()<ReduceOp::kProd>();
    case ReduceOp::kMax: return fn.template operator()<ReduceOp::kMax>();
    case ReduceOp::kMin: return fn.template operator()<ReduceOp::kMin>();
  }
  return fn.template operator()<ReduceOp::kSum>();
}

}  // namespace strata
