// Hierarchical AllReduce with its inter-site leg encoded, on the loopback
// executor: every rank ends with the same bits, the error stays within what
// one encoding per contribution (and one of the result) allows, lossless
// formats change nothing, Inf and NaN survive, and the WAN carries fewer bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "collectives/algorithms.h"
#include "collectives/hier_plan.h"
#include "collectives/planner.h"
#include "compression/codec.h"
#include "tests/collectives/loopback_harness.h"

namespace strata::testing {
namespace {

using collectives::Algorithm;
using collectives::Collective;
using collectives::CollectiveRequest;
using collectives::Network;
using compression::Format;

const collectives::LinkCost kWan{10e-3, 125e6, 4e9};  // 20 ms RTT, 1 Gbit/s

struct Shape {
  const char* name;
  std::vector<int> site_of_rank;
  std::vector<int> node_of_rank = {};
};
const Shape kShapes[] = {
    {"2x4", {0, 0, 0, 0, 1, 1, 1, 1}},
    {"3x2", {0, 0, 1, 1, 2, 2}},
    {"2_4_1_unequal", {0, 0, 1, 1, 1, 1, 2}},
    {"2x2x2_nodes", {0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 1, 1, 2, 2, 3, 3}},
};

// A bound per value of one encoding, relative to its block's largest magnitude.
double relative_bound(Format format) {
  switch (format) {
    case Format::kBf16:
    case Format::kBf16Zstd: return std::exp2(-8.0);
    case Format::kInt8: return 1.0 / 254;
    case Format::kFp8E4M3: return 1.0 / 16;
    case Format::kInt4: return 1.0 / 14;
    default: return 0;
  }
}

std::vector<Bytes> gradient_inputs(int nranks, uint64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> value(0.0f, 1.0f);
  std::vector<Bytes> inputs(nranks, Bytes(count * sizeof(float)));
  for (auto& input : inputs) {
    float* v = reinterpret_cast<float*>(input.data());
    for (uint64_t i = 0; i < count; ++i) v[i] = value(rng) * (1.0f + static_cast<float>(i % 7));
  }
  return inputs;
}

const float* floats(const Bytes& bytes) { return reinterpret_cast<const float*>(bytes.data()); }

CollectiveRequest request_for(int nranks, uint64_t count, Format format) {
  CollectiveRequest r;
  r.nranks = nranks;
  r.count = count;
  r.segment_bytes = 64 << 10;
  r.wan_format = format;
  r.error_feedback = compression::is_lossy(format);
  return r;
}

struct Case {
  const char* algorithm;
  Format format;
};

class CompressedAllReduce : public ::testing::TestWithParam<Case> {};

TEST_P(CompressedAllReduce, IdenticalBitsEverywhereWithinTheErrorBound) {
  const Algorithm* algorithm = collectives::find_algorithm(Collective::kAllReduce, GetParam().algorithm);
  ASSERT_NE(algorithm, nullptr);
  const Format format = GetParam().format;
  for (const Shape& shape : kShapes) {
    Network network = Network::with_sites(shape.site_of_rank, kWan);
    if (!shape.node_of_rank.empty()) network.node_of_rank = shape.node_of_rank;
    const int n = static_cast<int>(shape.site_of_rank.size());
    const CollectiveRequest r = request_for(n, 100'003, format);
    const auto inputs = gradient_inputs(n, r.count, 5);
    const RunResult result = run_on_loopback(*algorithm, r, inputs, false, network);
    ASSERT_EQ(result.damage, "") << shape.name;
    for (int rank = 1; rank < n; ++rank)
      ASSERT_EQ(std::memcmp(result.outputs[0].data(), result.outputs[rank].data(), r.count * 4), 0)
          << shape.name << ": rank " << rank << " differs from rank 0";
    // Each site's partial sum is encoded once (and the direct method's
    // result once more): at most sites + 1 encodings of values no larger
    // than the sum of magnitudes.
    const int sites = network.site_count();
    double largest = 0, worst = 0, total = 0;
    for (uint64_t i = 0; i < r.count; ++i) {
      double exact = 0, magnitude = 0;
      for (const auto& input : inputs) exact += floats(input)[i], magnitude += std::fabs(floats(input)[i]);
      largest = std::max(largest, magnitude);
      const double error = std::fabs(floats(result.outputs[0])[i] - exact);
      worst = std::max(worst, error);
      total += error;
    }
    const double bound = relative_bound(format) * (sites + 1) * largest + 1e-5 * largest;
    EXPECT_LE(worst, bound) << shape.name << " " << compression::format_name(format);
    if (compression::is_lossy(format)) EXPECT_GT(total, 0) << "nothing was encoded";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, CompressedAllReduce,
    ::testing::Values(Case{"hier_direct", Format::kInt8}, Case{"hier_direct", Format::kBf16},
                      Case{"hier_direct", Format::kFp8E4M3}, Case{"hier_direct", Format::kInt4},
                      Case{"hier_direct", Format::kZstd}, Case{"hier_direct", Format::kBf16Zstd},
                      Case{"hier_oneshot", Format::kInt8}, Case{"hier_oneshot", Format::kInt4},
                      Case{"hier_oneshot", Format::kZstd}, Case{"hier_ring", Format::kInt8}, Case{"hier", Format::kBf16}),
    [](const auto& info) {
      std::string name = std::string(info.param.algorithm) + "_" + std::string(compression::format_name(info.param.format));
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

// Lossless: the same bits as the uncompressed algorithm, which sums in the same order.
TEST(CompressedAllReduceLossless, ZstdChangesNoBit) {
  const Network network = Network::with_sites({0, 0, 1, 1, 2, 2}, kWan);
  for (const char* name : {"hier_direct", "hier_oneshot"}) {
    const Algorithm* algorithm = collectives::find_algorithm(Collective::kAllReduce, name);
    const auto inputs = gradient_inputs(6, 50'001, 8);
    const RunResult exact = run_on_loopback(*algorithm, request_for(6, 50'001, Format::kNone), inputs, false, network);
    const RunResult packed = run_on_loopback(*algorithm, request_for(6, 50'001, Format::kZstd), inputs, true, network);
    for (int rank = 0; rank < 6; ++rank)
      EXPECT_EQ(exact.outputs[rank], packed.outputs[rank]) << name << " rank " << rank;
  }
}

TEST(CompressedAllReduceOverflow, InfAndNanReachEveryRank) {
  const Network network = Network::with_sites({0, 0, 1, 1}, kWan);
  for (Format format : {Format::kInt8, Format::kInt4, Format::kFp8E4M3, Format::kBf16}) {
    auto inputs = gradient_inputs(4, 20'000, 3);
    reinterpret_cast<float*>(inputs[1].data())[123] = std::numeric_limits<float>::infinity();
    reinterpret_cast<float*>(inputs[2].data())[15'000] = std::numeric_limits<float>::quiet_NaN();
    const RunResult result =
        run_on_loopback(collectives::allreduce_hier_direct(), request_for(4, 20'000, format), inputs, false, network);
    for (int rank = 0; rank < 4; ++rank) {
      EXPECT_TRUE(std::isinf(floats(result.outputs[rank])[123])) << compression::format_name(format) << " rank " << rank;
      EXPECT_TRUE(std::isnan(floats(result.outputs[rank])[15'000])) << compression::format_name(format) << " rank " << rank;
      EXPECT_TRUE(std::isfinite(floats(result.outputs[rank])[0])) << "only the bad values' own elements";
    }
  }
}

// The schedule's inter-site messages, encoded at the nominal ratio, carry
// that much less than the uncompressed schedule's; the planner expects it.
TEST(CompressedAllReducePlan, FewerWanBytesAndAFasterPrediction) {
  const Network network = Network::with_sites({0, 0, 0, 0, 1, 1, 1, 1}, kWan);
  CollectiveRequest exact = request_for(8, 16 << 20, Format::kNone);
  CollectiveRequest packed = request_for(8, 16 << 20, Format::kInt8);
  const auto& hier = collectives::allreduce_hier();
  auto wan_sends = [&](const CollectiveRequest& r) {
    uint64_t messages = 0, values = 0;
    for (const auto& step : hier.build(r, network, 0).steps)
      if (step.kind == collectives::StepKind::kSend && network.site_of(step.peer) != network.site_of(0)) {
        ++messages;
        values += step.encoded ? 0 : step.src.bytes / 4;
      }
    return std::pair{messages, values};
  };
  EXPECT_GT(wan_sends(packed).first, 0u);
  EXPECT_EQ(wan_sends(packed).second, 0u) << "every inter-site send is encoded";
  EXPECT_LT(hier.predict_seconds(packed, network) * 2, hier.predict_seconds(exact, network));
  const auto plan = collectives::choose_algorithm(packed, network, "");
  EXPECT_NE(std::string(plan.algorithm->name()).find("hier"), std::string::npos) << plan.reason;
}

}  // namespace
}  // namespace strata::testing
