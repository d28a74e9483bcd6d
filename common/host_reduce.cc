#include "common/host_reduce.h"

#include <cstring>

#include "common/reduce_functors.h"

namespace strata {
namespace {

// Tight loops over restrict-free pointers: dst may alias a, so the compiler
// vectorises with a runtime overlap check, which it does for these shapes at
// -O3 (set for this file in CMakeLists.txt; at -O2 they stay scalar).
template <typename T, ReduceOp kOp>
void reduce_loop(T* dst, const T* a, const T* b, size_t count) {
  for (size_t i = 0; i < count; ++i) dst[i] = reduce_element<T, kOp>(a[i], b[i]);
}

}  // namespace

void host_reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count) {
  visit_datatype(type, [&]<typename T>() {
    visit_reduce_op(op, [&]<ReduceOp kOp>() {
      reduce_loop<T, kOp>(static_cast<T*>(dst), static_cast<const T*>(a), static_cast<const T*>(b), count);
    });
  });
}

void host_finish(DataType type, const Finish& finish, void* data, size_t count) {
  host_finish_copy(type, finish, data, data, count);
}

void host_finish_copy(DataType type, const Finish& finish, void* dst, const void* src, size_t count) {
  if (finish.kind == FinishKind::kNone) {
    if (dst != src) std::memmove(dst, src, count * datatype_size(type));
    return;
  }
  visit_datatype(type, [&]<typename T>() {
    T* out = static_cast<T*>(dst);
    const T* in = static_cast<const T*>(src);
    if (finish.kind == FinishKind::kDivide) {
      for (size_t i = 0; i < count; ++i) out[i] = divide_element(in[i], finish.divisor);
    } else {
      T scalar;
      std::memcpy(&scalar, finish.scalar, sizeof(T));
      for (size_t i = 0; i < count; ++i) out[i] = multiply_element(in[i], scalar);
    }
  });
}

bool finish_before_sum(DataType type, const Finish& finish) {
  return finish.kind != FinishKind::kNone && is_floating(type);
}

}  // namespace strata
