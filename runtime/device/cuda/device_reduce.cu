#include "runtime/device/cuda/device_reduce.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/reduce_functors.h"
#include "runtime/device/cuda/cuda_error.h"

namespace strata {
namespace {

// Every element-wise kernel here is memory-bound: each thread moves 16-byte
// vectors (one LDG.128/STG.128 per access) and issues kUnroll of them per
// input before using any, so enough bytes are in flight to hide DRAM latency.
constexpr size_t kVectorBytes = 16;
constexpr int kThreadsPerBlock = 512;
constexpr int kUnroll = 4;

template <typename T>
struct alignas(kVectorBytes) Vector {
  static constexpr int kLanes = kVectorBytes / sizeof(T);
  T lanes[kLanes];
};

// How [0, count) is walked: `head` scalar elements until every pointer is
// 16-byte aligned, then `vectors` whole vectors, then a scalar tail. Pointers
// that can never be aligned together get head == count (all scalar).
struct Layout {
  size_t count;
  size_t head;
  size_t vectors;
};

template <typename T>
Layout plan_layout(size_t count, const void* dst, const void* a, const void* b) {
  const auto offset_of = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % kVectorBytes; };
  const uintptr_t offset = offset_of(dst);
  if (offset % sizeof(T) != 0 || offset_of(a) != offset || offset_of(b) != offset) return {count, count, 0};
  const size_t head = std::min<size_t>(count, (kVectorBytes - offset) % kVectorBytes / sizeof(T));
  return {count, head, (count - head) / Vector<T>::kLanes};
}

template <typename T, ReduceOp kOp>
struct ReduceFn {
  __device__ T operator()(T a, T b) const { return reduce_element<T, kOp>(a, b); }
};

template <typename T>
struct DivideFn {
  uint64_t divisor;
  __device__ T operator()(T value) const { return divide_element(value, divisor); }
};

template <typename T>
struct MultiplyFn {
  T scalar;
  __device__ T operator()(T value) const { return multiply_element(value, scalar); }
};

// kInputs == 2: dst = fn(a, b). kInputs == 1: dst = fn(a) (b is not read).
template <int kInputs, typename T, typename Fn>
__device__ __forceinline__ T apply(const Fn& fn, T a, T b) {
  if constexpr (kInputs == 2) return fn(a, b);
  else return fn(a);
}

template <int kInputs, typename T, typename Fn>
__global__ void __launch_bounds__(kThreadsPerBlock)
    map_kernel(T* dst, const T* a, const T* b, Layout layout, Fn fn) {
  using V = Vector<T>;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t thread = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;

  // Head and tail, one element per thread (all of it when unaligned).
  const size_t vector_elements = layout.vectors * V::kLanes;
  const size_t scalars = layout.count - vector_elements;
  for (size_t j = thread; j < scalars; j += stride) {
    const size_t i = j < layout.head ? j : j + vector_elements;
    dst[i] = apply<kInputs>(fn, a[i], kInputs == 2 ? b[i] : a[i]);
  }

  V* dst_v = reinterpret_cast<V*>(dst + layout.head);
  const V* a_v = reinterpret_cast<const V*>(a + layout.head);
  const V* b_v = reinterpret_cast<const V*>(b + layout.head);
  size_t v = thread;
  // dst may alias a or b, so the compiler cannot hoist loads above stores by
  // itself: load all kUnroll vectors explicitly first.
  for (; v + (kUnroll - 1) * stride < layout.vectors; v += kUnroll * stride) {
    V x[kUnroll], y[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      x[u] = a_v[v + u * stride];
      if constexpr (kInputs == 2) y[u] = b_v[v + u * stride];
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      V out;
#pragma unroll
      for (int k = 0; k < V::kLanes; ++k)
        out.lanes[k] = apply<kInputs>(fn, x[u].lanes[k], kInputs == 2 ? y[u].lanes[k] : x[u].lanes[k]);
      dst_v[v + u * stride] = out;
    }
  }
  for (; v < layout.vectors; v += stride) {
    const V x = a_v[v];
    V y;
    if constexpr (kInputs == 2) y = b_v[v];
    V out;
#pragma unroll
    for (int k = 0; k < V::kLanes; ++k)
      out.lanes[k] = apply<kInputs>(fn, x.lanes[k], kInputs == 2 ? y.lanes[k] : x.lanes[k]);
    dst_v[v] = out;
  }
}

// Resident blocks per multiprocessor for one kernel instantiation, asked
// once: it depends on the kernel's registers and the architecture, and a
// process's GPUs are in practice one architecture.
template <int kInputs, typename T, typename Fn>
int resident_blocks_per_sm() {
  static const int blocks = [] {
    int n = 0;
    check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, map_kernel<kInputs, T, Fn>, kThreadsPerBlock, 0),
               "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    return std::max(n, 1);
  }();
  return blocks;
}

// A grid that gives each thread at least one unit of work and at most fills
// the GPU once; the grid-stride loops cover the rest.
template <int kInputs, typename T, typename Fn>
void launch_map(T* dst, const T* a, const T* b, Layout layout, Fn fn, cudaStream_t stream, const char* what) {
  int device = 0;
  check_cuda(cudaGetDevice(&device), what);
  int sm_count = 0;
  check_cuda(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device), what);
  const size_t scalars = layout.count - layout.vectors * Vector<T>::kLanes;
  const size_t units = std::max(layout.vectors, scalars);
  const size_t wanted = (units + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const size_t most = static_cast<size_t>(sm_count) * resident_blocks_per_sm<kInputs, T, Fn>();
  const auto blocks = static_cast<unsigned>(std::clamp<size_t>(wanted, 1, most));
  map_kernel<kInputs><<<blocks, kThreadsPerBlock, 0, stream>>>(dst, a, b, layout, fn);
  check_cuda(cudaGetLastError(), what);
}

}  // namespace

void device_reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count,
                   cudaStream_t stream) {
  if (count == 0) return;
  visit_datatype(type, [&]<typename T>() {
    visit_reduce_op(op, [&]<ReduceOp kOp>() {
      launch_map<2>(static_cast<T*>(dst), static_cast<const T*>(a), static_cast<const T*>(b),
                    plan_layout<T>(count, dst, a, b), ReduceFn<T, kOp>{}, stream, "device_reduce");
    });
  });
}

void device_finish(DataType type, const Finish& finish, void* data, size_t count, cudaStream_t stream) {
  if (count == 0 || finish.kind == FinishKind::kNone) return;
  visit_datatype(type, [&]<typename T>() {
    T* values = static_cast<T*>(data);
    const Layout layout = plan_layout<T>(count, data, data, data);
    if (finish.kind == FinishKind::kDivide) {
      launch_map<1>(values, values, values, layout, DivideFn<T>{finish.divisor}, stream, "device_finish");
    } else {
      T scalar;
      std::memcpy(&scalar, finish.scalar, sizeof(T));
      launch_map<1>(values, values, values, layout, MultiplyFn<T>{scalar}, stream, "device_finish");
    }
  });
}

}  // namespace strata
