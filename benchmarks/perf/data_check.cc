#include "benchmarks/perf/data_check.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "benchmarks/perf/layout.h"
#include "common/host_reduce.h"
#include "common/reduce_functors.h"

namespace strata::perf {
namespace {

// Which value set an input draws from; see element_value.
enum class ValueKind { kMove, kSum, kProd, kMinMax };

// References are built and compared this many elements at a time, so that
// the scratch buffers stay in cache whatever the message size.
constexpr uint64_t kChunkElements = uint64_t{1} << 14;

ValueKind value_kind(const CollectiveRequest& request) {
  if (!collective_reduces(request.collective)) return ValueKind::kMove;
  switch (request.op) {
    case ReduceOp::kProd: return ValueKind::kProd;
    case ReduceOp::kMax:
    case ReduceOp::kMin: return ValueKind::kMinMax;
    default: return ValueKind::kSum;
  }
}

// SplitMix64's finaliser over the three coordinates: neighbouring elements,
// ranks and seeds get unrelated values, so a misplaced block is caught.
uint64_t element_hash(int rank, uint64_t index, uint64_t seed) {
  uint64_t x = index * 0x9E3779B97F4A7C15ull + (static_cast<uint64_t>(rank) + 1) * 0xBF58476D1CE4E5B9ull +
               seed * 0x94D049BB133111EBull;
  x ^= x >> 31;
  x *= 0xD6E8FEB86659FD93ull;
  return x ^ (x >> 32);
}

// Why these sets:
// - Sums use -2..2, exact in float/double at any rank count; the small floats
//   get 0..1 so partial sums stay integers <= nranks, exact in every format up
//   to 8 ranks (E5M2 holds integers to 8), and only drift beyond that.
// - Unsigned sums use 0..2 so that they do not wrap at test scales: integer
//   wrapping is exact for Strata, but Open MPI 4.1's AVX reductions saturate
//   8- and 16-bit sums instead (open-mpi/ompi#8045), which would make the
//   --compare-mpi column report wrong elements that are MPI's, not ours.
// - Products use {1, 2, -1}: every partial product is +-2^k, exact until it
//   overflows, and because |partial| only grows, overflow (inf, or FP8's
//   saturation at the largest finite value) is reached in any order alike.
// - Min/max pick one of the inputs, exact for any values.
// - Data movement is checked bit for bit, so any spread of values will do.
// Unsigned types take negative values modulo 2^bits, which keeps them exact.
int64_t element_value(ValueKind kind, bool small_float, bool is_unsigned, uint64_t hash) {
  static constexpr int64_t kFactors[4] = {1, 2, -1, 1};
  static constexpr int64_t kUnsignedFactors[4] = {1, 2, 1, 1};
  switch (kind) {
    case ValueKind::kSum:
      if (small_float) return static_cast<int64_t>(hash % 2);
      return is_unsigned ? static_cast<int64_t>(hash % 3) : static_cast<int64_t>(hash % 5) - 2;
    case ValueKind::kProd: return (is_unsigned ? kUnsignedFactors : kFactors)[hash % 4];
    case ValueKind::kMinMax: return static_cast<int64_t>(hash % 17) - 8;
    case ValueKind::kMove: break;
  }
  return static_cast<int64_t>(hash % 97) - 48;
}

// Floating averages scale each input by 1/nranks before the sum, as NCCL
// does (finish_before_sum): inputs that are multiples of nranks keep the
// scaled values, and so the check, exact.
bool scales_inputs(const CollectiveRequest& request) {
  return request.op == ReduceOp::kSum && finish_before_sum(request.dtype, request.finish);
}

void fill_range(const CollectiveRequest& request, int rank, uint64_t seed, uint64_t first, uint64_t count,
                void* out) {
  const ValueKind kind = value_kind(request);
  const bool averaged = scales_inputs(request) && request.finish.kind == FinishKind::kDivide;
  const int64_t factor = averaged ? static_cast<int64_t>(request.finish.divisor) : 1;
  visit_datatype(request.dtype, [&]<typename T>() {
    T* values = static_cast<T*>(out);
    for (uint64_t k = 0; k < count; ++k) {
      const int64_t value =
          element_value(kind, kIsSmallFloat<T>, std::is_unsigned_v<T>, element_hash(rank, first + k, seed));
      values[k] = narrow<T>(static_cast<ComputeType<T>>(value * factor));
    }
  });
}

// Relative error allowed for reductions in half, bfloat16 and FP8: one
// rounding (unit roundoff u = 2^-(mantissa bits + 1)) per combining step and
// one for the finish. Bounded by (nranks + 1) u for non-negative addends,
// which is what the sum values above give these types.
double relative_tolerance(const CollectiveRequest& request) {
  if (!collective_reduces(request.collective)) return 0;
  double unit_roundoff = 0;
  switch (request.dtype) {
    case DataType::kFloat16: unit_roundoff = std::ldexp(1.0, -11); break;
    case DataType::kBFloat16: unit_roundoff = std::ldexp(1.0, -8); break;
    case DataType::kFloat8E4M3: unit_roundoff = std::ldexp(1.0, -4); break;
    case DataType::kFloat8E5M2: unit_roundoff = std::ldexp(1.0, -3); break;
    default: return 0;
  }
  return (request.nranks + 1) * unit_roundoff;
}

template <typename T>
bool element_matches(const T& got, const T& want, double tolerance, double float_tolerance) {
  if constexpr (kIsSmallFloat<T>) {
    if (got.bits == want.bits) return true;
    const double g = got.to_float();
    const double w = want.to_float();
    return tolerance > 0 && std::fabs(g - w) <= tolerance * std::fabs(w);  // false for NaN
  } else if constexpr (std::is_same_v<T, float>) {
    return got == want || std::fabs(got - want) <= float_tolerance;  // false for NaN
  } else {
    return got == want;  // float/double by value: the references are exact
  }
}

uint64_t count_mismatches(DataType type, const void* got, const void* want, uint64_t count, double tolerance,
                          double float_tolerance) {
  return visit_datatype(type, [&]<typename T>() {
    const T* g = static_cast<const T*>(got);
    const T* w = static_cast<const T*>(want);
    uint64_t wrong = 0;
    for (uint64_t k = 0; k < count; ++k) wrong += element_matches(g[k], w[k], tolerance, float_tolerance) ? 0 : 1;
    return wrong;
  });
}

// Reference of every rank's elements first..first+count reduced in rank
// order, then finished (or, for floating averages and PreMulSum, each
// rank's values scaled first); `scratch` holds one rank's values at a time.
void reduce_reference(const CollectiveRequest& request, uint64_t seed, uint64_t first, uint64_t count,
                      std::byte* out, std::byte* scratch) {
  const bool scale_first = scales_inputs(request);
  fill_range(request, 0, seed, first, count, out);
  if (scale_first) host_finish(request.dtype, request.finish, out, count);
  for (int rank = 1; rank < request.nranks; ++rank) {
    fill_range(request, rank, seed, first, count, scratch);
    if (scale_first) host_finish(request.dtype, request.finish, scratch, count);
    host_reduce(request.dtype, request.op, out, out, scratch, count);
  }
  if (!scale_first) host_finish(request.dtype, request.finish, out, count);
}

uint64_t count_wrong_in_segment(const CollectiveRequest& request, uint64_t seed, const Segment& segment,
                                const std::byte* output, double float_tolerance) {
  const size_t element = datatype_size(request.dtype);
  const double tolerance = relative_tolerance(request);
  std::vector<std::byte> want(kChunkElements * element);
  std::vector<std::byte> scratch(kChunkElements * element);
  uint64_t wrong = 0;
  for (uint64_t done = 0; done < segment.count; done += kChunkElements) {
    const uint64_t count = std::min(kChunkElements, segment.count - done);
    if (segment.source == kAllRanks)
      reduce_reference(request, seed, segment.first + done, count, want.data(), scratch.data());
    else
      fill_range(request, segment.source, seed, segment.first + done, count, want.data());
    wrong += count_mismatches(request.dtype, output + (segment.dst + done) * element, want.data(), count, tolerance,
                              float_tolerance);
  }
  return wrong;
}

}  // namespace

void fill_input(const CollectiveRequest& request, int rank, uint64_t seed, std::byte* input) {
  fill_range(request, rank, seed, 0, input_count(request), input);
}

void poison(std::byte* data, uint64_t bytes) { std::memset(data, 0xA5, bytes); }

uint64_t count_wrong(const CollectiveRequest& request, int rank, uint64_t seed, const std::byte* output,
                     double float_tolerance) {
  uint64_t wrong = 0;
  for (const Segment& segment : expected_segments(request, rank))
    wrong += count_wrong_in_segment(request, seed, segment, output, float_tolerance);
  return wrong;
}

double lossy_tolerance(const CollectiveRequest& request, compression::Format format) {
  if (!compression::is_lossy(format)) return 0;
  double per_encoding = 0;
  switch (format) {
    case compression::Format::kBf16:
    case compression::Format::kBf16Zstd: per_encoding = std::ldexp(1.0, -8); break;
    case compression::Format::kInt8: per_encoding = 1.0 / 254; break;
    case compression::Format::kFp8E4M3: per_encoding = 1.0 / 16; break;
    default: per_encoding = 1.0 / 14; break;
  }
  const double largest = 2.0 * request.nranks;  // inputs are -2..2
  return per_encoding * (request.nranks + 1) * largest;
}

}  // namespace strata::perf
