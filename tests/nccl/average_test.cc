// ncclAvg and PreMulSum scale each rank's input before the sum for floating
// types, as NCCL does: eight ranks averaging fp16 10000 get 10000, where a
// sum-then-divide overflows to inf. Integers divide the exact sum.
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nccl_test_util.h"

extern "C" {
#include "element_values.h"
}

namespace {

constexpr cudaStream_t kStream = nullptr;
constexpr int kRanks = 8;

class ncclAverage : public ncclLocalRanks<kRanks> {
 protected:
  // One element per rank through ncclAllReduce with `op[rank]`, in one group.
  std::vector<std::array<uint8_t, 8>> all_reduce(ncclDataType_t type, const std::vector<std::array<uint8_t, 8>>& in,
                                                 const std::array<ncclRedOp_t, kRanks>& op) {
    std::vector<std::array<uint8_t, 8>> out(kRanks);
    EXPECT_EQ(ncclGroupStart(), ncclSuccess);
    for (int rank = 0; rank < kRanks; ++rank)
      EXPECT_EQ(ncclAllReduce(in[rank].data(), out[rank].data(), 1, type, op[rank], comms_[rank], kStream), ncclSuccess)
          << ncclGetLastError(nullptr);
    EXPECT_EQ(ncclGroupEnd(), ncclSuccess) << ncclGetLastError(nullptr);
    return out;
  }
};

std::array<uint8_t, 8> bits_of(ncclDataType_t type, double value) {
  std::array<uint8_t, 8> bits{};
  element_store(type, bits.data(), 0, value);
  return bits;
}

TEST_F(ncclAverage, Float16AverageOfTenThousandIsTenThousand) {
  const std::array<uint8_t, 8> x = bits_of(ncclFloat16, 10000);
  ASSERT_EQ(x[0] | x[1] << 8, 0x70E2);
  std::array<ncclRedOp_t, kRanks> avg, premul;
  avg.fill(ncclAvg);
  std::array<uint8_t, 8> eighth = bits_of(ncclFloat16, 0.125);
  for (int rank = 0; rank < kRanks; ++rank)
    NCCL_ASSERT_OK(ncclRedOpCreatePreMulSum(&premul[rank], eighth.data(), ncclFloat16, ncclScalarHostImmediate,
                                            comms_[rank]));
  const std::vector<std::array<uint8_t, 8>> in(kRanks, x);
  for (const auto& ops : {avg, premul}) {
    const auto out = all_reduce(ncclFloat16, in, ops);
    for (int rank = 0; rank < kRanks; ++rank) EXPECT_EQ(element_load(ncclFloat16, out[rank].data(), 0), 10000);
  }
  for (int rank = 0; rank < kRanks; ++rank) NCCL_EXPECT_OK(ncclRedOpDestroy(premul[rank], comms_[rank]));
}

// The largest power of two of each floating type, on every rank: scaling
// first keeps every partial sum exact and finite; summing first overflows.
TEST_F(ncclAverage, EveryFloatingTypeScalesBeforeTheSumBitForBit) {
  struct Case {
    ncclDataType_t type;
    std::array<uint8_t, 8> bits;
  };
  const std::vector<Case> cases{{ncclFloat16, bits_of(ncclFloat16, 32768)},
                                {ncclBfloat16, bits_of(ncclBfloat16, 0x1p127)},
                                {ncclFloat32, bits_of(ncclFloat32, 0x1p127)},
                                {ncclFloat64, bits_of(ncclFloat64, 0x1p1023)},
                                {ncclFloat8e4m3, {0x78}},   // 256 = 2^8: exponent 15 - bias 7
                                {ncclFloat8e5m2, {0x78}}};  // 32768 = 2^15: exponent 30 - bias 15
  std::array<ncclRedOp_t, kRanks> avg;
  avg.fill(ncclAvg);
  for (const Case& c : cases) {
    const auto out = all_reduce(c.type, std::vector<std::array<uint8_t, 8>>(kRanks, c.bits), avg);
    for (int rank = 0; rank < kRanks; ++rank)
      EXPECT_EQ(std::memcmp(out[rank].data(), c.bits.data(), element_size(c.type)), 0)
          << element_type_name(c.type) << " rank " << rank << ": got byte 0 = " << int(out[rank][0]);
  }
}

// Integers: the exact sum 1 + ... + 8 = 36, divided with truncation: 4.
TEST_F(ncclAverage, IntegerAverageTruncatesTheExactSum) {
  std::array<ncclRedOp_t, kRanks> avg;
  avg.fill(ncclAvg);
  for (ncclDataType_t type : {ncclInt8, ncclUint8, ncclInt32, ncclUint32, ncclInt64, ncclUint64}) {
    std::vector<std::array<uint8_t, 8>> in(kRanks);
    for (int rank = 0; rank < kRanks; ++rank) element_store(type, in[rank].data(), 0, rank + 1);
    const auto out = all_reduce(type, in, avg);
    for (int rank = 0; rank < kRanks; ++rank)
      EXPECT_EQ(element_load(type, out[rank].data(), 0), 4) << element_type_name(type) << " rank " << rank;
  }
}

}  // namespace
