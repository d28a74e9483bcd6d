// The reference side of the loopback harness: inputs and expected outputs,
// computed element by element in double or int64 (never with the runtime's
// reduction code), then stored in the datatype.
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "common/reduce_functors.h"
#include "tests/collectives/loopback_harness.h"

namespace strata::testing {

using collectives::Collective;
using collectives::CollectiveRequest;

namespace {

// A small integer, so sums and products stay exact in every float format
// for up to 16 ranks (fp8 E5M2 up to 8; see fp8_tolerance).
double input_value(const CollectiveRequest& request, int rank, uint64_t index) {
  const uint64_t mix = (static_cast<uint64_t>(rank) * 2654435761u + index * 40503u) >> 3;
  switch (request.op) {
    case ReduceOp::kProd: return (rank < 3 && index % 3 == 0) ? 2.0 : (mix % 2 ? -1.0 : 1.0);
    case ReduceOp::kSum: return static_cast<double>(mix % 2);
    default: return static_cast<double>(static_cast<int>(mix % 15) - 7);
  }
}

template <typename T>
T from_double(double value) {
  if constexpr (kIsSmallFloat<T>) return T::from_float(static_cast<float>(value));
  else if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<int64_t>(value));
  else return static_cast<T>(value);
}

template <typename T>
double to_double(T value) {
  if constexpr (kIsSmallFloat<T>) return value.to_float();
  else return static_cast<double>(value);
}

double combine(ReduceOp op, double a, double b) {
  switch (op) {
    case ReduceOp::kSum: return a + b;
    case ReduceOp::kProd: return a * b;
    case ReduceOp::kMax: return std::max(a, b);
    case ReduceOp::kMin: return std::min(a, b);
  }
  return 0;
}

double finish_value(const CollectiveRequest& request, double value, bool integral) {
  switch (request.finish.kind) {
    case FinishKind::kNone: return value;
    case FinishKind::kDivide:
      return integral ? std::trunc(value / static_cast<double>(request.finish.divisor))
                      : value / static_cast<double>(request.finish.divisor);
    case FinishKind::kMultiply: {
      double scalar = 0;
      visit_datatype(request.dtype, [&]<typename T>() {
        T stored;
        std::memcpy(&stored, request.finish.scalar, sizeof(T));
        scalar = to_double(stored);
      });
      return value * scalar;
    }
  }
  return value;
}

template <typename T>
T combine_integral(ReduceOp op, T a, T b) {
  switch (op) {
    case ReduceOp::kSum: return static_cast<T>(a + b);
    case ReduceOp::kProd: return static_cast<T>(a * b);
    case ReduceOp::kMax: return std::max(a, b);
    case ReduceOp::kMin: return std::min(a, b);
  }
  return a;
}

// out[0..count) = the reduction over all ranks of send elements
// [first, first+count): integers in their own width (wrapping, as NCCL's do),
// floats in double and rounded once.
void reduce_range(const CollectiveRequest& request, const std::vector<Bytes>& inputs, uint64_t first, uint64_t count,
                  Bytes& out) {
  visit_datatype(request.dtype, [&]<typename T>() {
    T* target = reinterpret_cast<T*>(out.data());
    for (uint64_t i = 0; i < count; ++i) {
      auto element = [&](int rank) { return reinterpret_cast<const T*>(inputs[rank].data())[first + i]; };
      if constexpr (std::is_integral_v<T>) {
        T value = element(0);
        for (int rank = 1; rank < request.nranks; ++rank) value = combine_integral(request.op, value, element(rank));
        if (request.finish.kind == FinishKind::kDivide) value = static_cast<T>(value / static_cast<T>(request.finish.divisor));
        if (request.finish.kind == FinishKind::kMultiply) {
          T scalar;
          std::memcpy(&scalar, request.finish.scalar, sizeof(T));
          value = static_cast<T>(value * scalar);
        }
        target[i] = value;
      } else {
        double value = to_double(element(0));
        for (int rank = 1; rank < request.nranks; ++rank) value = combine(request.op, value, to_double(element(rank)));
        target[i] = from_double<T>(finish_value(request, value, false));
      }
    }
  });
}


void copy_block(const CollectiveRequest& request, Bytes& out, uint64_t out_block, const Bytes& in, uint64_t in_block) {
  const uint64_t block = request.bytes_per_block();
  if (block) std::memcpy(out.data() + out_block * block, in.data() + in_block * block, block);
}

// FP8: the inputs' partial sums are exact up to 16 ranks in E4M3 and 8 in
// E5M2 (integers up to 16 and 8). Past that each addition may round by half
// an ulp; a finishing scale rounds once more.
double fp8_tolerance(const CollectiveRequest& request) {
  const bool e4m3 = request.dtype == DataType::kFloat8E4M3;
  const double half_ulp = e4m3 ? 1.0 / 16 : 1.0 / 8;
  const int exact_up_to = e4m3 ? 16 : 8;
  double tolerance = request.nranks > exact_up_to ? (request.nranks - 1) * half_ulp : 0;
  if (request.finish.kind != FinishKind::kNone) tolerance += 2 * half_ulp;
  return tolerance;
}

// Integers and exact float reductions must match bit for bit. A finishing
// multiply rounds differently in float than the reference's double, by an
// ulp.
double relative_tolerance(const CollectiveRequest& request) {
  if (!is_floating(request.dtype)) return 0;
  if (request.dtype == DataType::kFloat8E4M3 || request.dtype == DataType::kFloat8E5M2)
    return fp8_tolerance(request);
  if (request.finish.kind == FinishKind::kNone) return 0;
  switch (request.dtype) {
    case DataType::kFloat16: return 2e-3;
    case DataType::kBFloat16: return 1.6e-2;
    case DataType::kFloat32: return 1e-6;
    default: return 1e-12;
  }
}

}  // namespace

std::vector<Bytes> make_inputs(const CollectiveRequest& request) {
  std::vector<Bytes> inputs(request.nranks);
  const uint64_t elements = request.send_buffer_bytes() / datatype_size(request.dtype);
  const uint64_t all_elements = request.count * request.nranks;  // Scatter etc. need n blocks
  for (int rank = 0; rank < request.nranks; ++rank) {
    const uint64_t total = std::max(elements, all_elements);
    inputs[rank].assign(total * datatype_size(request.dtype), std::byte{0});
    visit_datatype(request.dtype, [&]<typename T>() {
      T* values = reinterpret_cast<T*>(inputs[rank].data());
      for (uint64_t i = 0; i < total; ++i) values[i] = from_double<T>(input_value(request, rank, i));
    });
    inputs[rank].resize(request.send_buffer_bytes());
  }
  return inputs;
}

std::vector<Bytes> expected_outputs(const CollectiveRequest& request, const std::vector<Bytes>& inputs) {
  const int n = request.nranks;
  std::vector<Bytes> outputs(n);
  for (int rank = 0; rank < n; ++rank) {
    Bytes& out = outputs[rank];
    out.assign(request.recv_buffer_bytes(rank), std::byte{0});
    switch (request.collective) {
      case Collective::kAllReduce:
        reduce_range(request, inputs, 0, request.count, out);
        break;
      case Collective::kReduce:
        if (rank == request.root) reduce_range(request, inputs, 0, request.count, out);
        break;
      case Collective::kReduceScatter:
        reduce_range(request, inputs, rank * request.count, request.count, out);
        break;
      case Collective::kBroadcast: copy_block(request, out, 0, inputs[request.root], 0); break;
      case Collective::kAllGather:
        for (int from = 0; from < n; ++from) copy_block(request, out, from, inputs[from], 0);
        break;
      case Collective::kGather:
        if (rank == request.root)
          for (int from = 0; from < n; ++from) copy_block(request, out, from, inputs[from], 0);
        break;
      case Collective::kAllToAll:
        for (int from = 0; from < n; ++from) copy_block(request, out, from, inputs[from], rank);
        break;
      case Collective::kScatter: copy_block(request, out, 0, inputs[request.root], rank); break;
      default: break;
    }
  }
  return outputs;
}

std::string compare_outputs(const CollectiveRequest& request, const std::vector<Bytes>& expected,
                            const RunResult& got) {
  if (!got.damage.empty()) return got.damage;
  return compare_outputs(request, expected, got.outputs);
}

std::string compare_outputs(const CollectiveRequest& request, const std::vector<Bytes>& expected,
                            const std::vector<Bytes>& got) {
  const double tolerance_relative = relative_tolerance(request);
  for (int rank = 0; rank < request.nranks; ++rank) {
    const uint64_t elements = expected[rank].size() / datatype_size(request.dtype);
    if (got[rank].size() != expected[rank].size()) return fmt::format("rank {}: output size differs", rank);
    std::string mismatch;
    visit_datatype(request.dtype, [&]<typename T>() {
      const T* want = reinterpret_cast<const T*>(expected[rank].data());
      const T* have = reinterpret_cast<const T*>(got[rank].data());
      for (uint64_t i = 0; i < elements && mismatch.empty(); ++i) {
        const double w = to_double(want[i]), h = to_double(have[i]);
        const double tolerance = tolerance_relative * std::max(1.0, std::fabs(w));
        if (!(std::fabs(w - h) <= tolerance) && !(std::isnan(w) && std::isnan(h)))
          mismatch = fmt::format("rank {} element {}: expected {} got {}", rank, i, w, h);
      }
    });
    if (!mismatch.empty()) return mismatch;
  }
  return {};
}

}  // namespace strata::testing
