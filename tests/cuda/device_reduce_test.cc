// device_reduce/device_finish against host_reduce/host_finish: the same
// functors run on both sides, so results must match bit for bit. The inputs
// are random bits, which covers subnormals, infinities and NaNs; the only
// allowed difference is which NaN comes out (x86 and the GPU propagate NaN
// payloads and signs differently).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "common/error.h"
#include "common/host_reduce.h"
#include "common/reduce_functors.h"
#include "runtime/device/cuda/cuda_error.h"
#include "runtime/device/cuda/device_reduce.h"

namespace strata {
namespace {

constexpr size_t kCounts[] = {0, 1, 7, 1000003};
constexpr size_t kGuardElements = 16;  // poisoned elements each side of every buffer
constexpr unsigned char kPoison = 0xA5;

#define ASSERT_CUDA(call) ASSERT_EQ(cudaSuccess, (call)) << #call

// Where the three pointers sit relative to 16-byte alignment.
enum class Placement {
  kAligned,      // all aligned: head-free vector path
  kAllShifted,   // all one element past alignment: scalar head, then vectors
  kDstShifted,   // only dst shifted: never aligned together, all scalar
  kInPlace,      // dst == a, aligned
};

std::string placement_name(Placement p) {
  switch (p) {
    case Placement::kAligned: return "aligned";
    case Placement::kAllShifted: return "all shifted by one element";
    case Placement::kDstShifted: return "dst shifted by one element";
    case Placement::kInPlace: return "in place";
  }
  return "?";
}

// A device buffer of `count` elements starting `shift` elements past a
// 256-byte-aligned allocation, with kGuardElements poisoned on each side.
class DeviceArray {
 public:
  DeviceArray(size_t count, size_t element_size, size_t shift)
      : element_size_(element_size), shift_(shift),
        total_bytes_((count + shift + 2 * kGuardElements) * element_size) {
    EXPECT_EQ(cudaSuccess, cudaMalloc(&base_, total_bytes_));
    EXPECT_EQ(cudaSuccess, cudaMemset(base_, kPoison, total_bytes_));
  }
  ~DeviceArray() { cudaFree(base_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  void* data() const { return static_cast<char*>(base_) + (kGuardElements + shift_) * element_size_; }
  void upload(const std::vector<unsigned char>& bytes) const {
    EXPECT_EQ(cudaSuccess, cudaMemcpy(data(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  }
  // The whole allocation, guards included.
  std::vector<unsigned char> download_all() const {
    std::vector<unsigned char> bytes(total_bytes_);
    EXPECT_EQ(cudaSuccess, cudaMemcpy(bytes.data(), base_, total_bytes_, cudaMemcpyDeviceToHost));
    return bytes;
  }
  size_t data_offset_bytes() const { return (kGuardElements + shift_) * element_size_; }

 private:
  void* base_ = nullptr;
  size_t element_size_;
  size_t shift_;
  size_t total_bytes_;
};

std::vector<unsigned char> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<unsigned char> bytes(n);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng());
  return bytes;
}

// Index of the first element where `got` and `want` differ, counting any two
// NaNs as equal; -1 when they match.
long first_mismatch(DataType type, const unsigned char* got, const unsigned char* want, size_t count) {
  return visit_datatype(type, [&]<typename T>() -> long {
    for (size_t i = 0; i < count; ++i) {
      if (std::memcmp(got + i * sizeof(T), want + i * sizeof(T), sizeof(T)) == 0) continue;
      if constexpr (!std::is_integral_v<T>) {
        T g, w;
        std::memcpy(&g, got + i * sizeof(T), sizeof(T));
        std::memcpy(&w, want + i * sizeof(T), sizeof(T));
        if (std::isnan(widen(g)) && std::isnan(widen(w))) continue;
      }
      return static_cast<long>(i);
    }
    return -1;
  });
}

std::string hex(const unsigned char* bytes, size_t n) {
  std::string text = "0x";
  static const char kDigits[] = "0123456789abcdef";
  for (size_t i = n; i-- > 0;) {  // little-endian: most significant byte last
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 15];
  }
  return text;
}

// Checks `result` (a full download, guards included) against `want`.
void expect_matches(DataType type, const DeviceArray& array, const std::vector<unsigned char>& result,
                    const std::vector<unsigned char>& want, const std::string& label) {
  const size_t size = datatype_size(type);
  const size_t count = want.size() / size;
  const unsigned char* got = result.data() + array.data_offset_bytes();
  const long bad = first_mismatch(type, got, want.data(), count);
  EXPECT_EQ(bad, -1) << label << ": element " << bad << " got "
                     << (bad >= 0 ? hex(got + bad * size, size) : "") << " want "
                     << (bad >= 0 ? hex(want.data() + bad * size, size) : "");
  for (size_t i = 0; i < result.size(); ++i) {
    const bool inside = i >= array.data_offset_bytes() && i < array.data_offset_bytes() + want.size();
    if (!inside && result[i] != kPoison) {
      ADD_FAILURE() << label << ": wrote outside the buffer at byte " << i;
      break;
    }
  }
}

std::vector<DataType> all_datatypes() {
  std::vector<DataType> types;
  for (int i = 0; i < kDataTypeCount; ++i) types.push_back(static_cast<DataType>(i));
  return types;
}

std::vector<ReduceOp> all_reduce_ops() {
  std::vector<ReduceOp> ops;
  for (int i = 0; i < kReduceOpCount; ++i) ops.push_back(static_cast<ReduceOp>(i));
  return ops;
}

class DeviceReduceTest : public ::testing::TestWithParam<std::tuple<DataType, ReduceOp>> {
 protected:
  void SetUp() override {
    if (!cuda_device_available())
      GTEST_SKIP() << "no usable CUDA GPU or driver: device reduction kernels not exercised";
  }
};

TEST_P(DeviceReduceTest, MatchesHostReduceBitwise) {
  const auto [type, op] = GetParam();
  const size_t size = datatype_size(type);
  for (const size_t count : kCounts) {
    for (const Placement placement :
         {Placement::kAligned, Placement::kAllShifted, Placement::kDstShifted, Placement::kInPlace}) {
      const std::string label = std::string(datatype_name(type)) + " " + std::string(reduce_op_name(op)) +
                                " count " + std::to_string(count) + ", " + placement_name(placement);
      const auto a = random_bytes(count * size, 1000 + count);
      const auto b = random_bytes(count * size, 2000 + count);
      std::vector<unsigned char> want(count * size);
      host_reduce(type, op, want.data(), a.data(), b.data(), count);

      const size_t shift = placement == Placement::kAllShifted ? 1 : 0;
      const size_t dst_shift = placement == Placement::kAligned || placement == Placement::kInPlace ? 0 : 1;
      DeviceArray dev_a(count, size, shift), dev_b(count, size, shift), dev_dst(count, size, dst_shift);
      dev_a.upload(a);
      dev_b.upload(b);
      const DeviceArray& out = placement == Placement::kInPlace ? dev_a : dev_dst;
      ASSERT_NO_THROW(device_reduce(type, op, out.data(), dev_a.data(), dev_b.data(), count, nullptr)) << label;
      ASSERT_CUDA(cudaDeviceSynchronize());
      expect_matches(type, out, out.download_all(), want, label);
      if (HasFailure()) return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypesAndOps, DeviceReduceTest, ::testing::Combine(::testing::ValuesIn(all_datatypes()), ::testing::ValuesIn(all_reduce_ops())),
    [](const auto& info) {
      return std::string(datatype_name(std::get<0>(info.param))) + "_" +
             std::string(reduce_op_name(std::get<1>(info.param)));
    });

class DeviceFinishTest : public ::testing::TestWithParam<DataType> {
 protected:
  void SetUp() override {
    if (!cuda_device_available())
      GTEST_SKIP() << "no usable CUDA GPU or driver: device finish kernels not exercised";
  }
};

TEST_P(DeviceFinishTest, MatchesHostFinishBitwise) {
  const DataType type = GetParam();
  const size_t size = datatype_size(type);
  Finish divide;
  divide.kind = FinishKind::kDivide;
  divide.divisor = 3;
  Finish multiply;
  multiply.kind = FinishKind::kMultiply;
  const auto scalar = random_bytes(size, 7);
  std::memcpy(multiply.scalar, scalar.data(), size);

  for (const Finish& finish : {divide, multiply}) {
    for (const size_t count : kCounts) {
      for (const size_t shift : {0, 1}) {
        const std::string label = std::string(datatype_name(type)) +
                                  (finish.kind == FinishKind::kDivide ? " divide" : " multiply") + " count " +
                                  std::to_string(count) + " shift " + std::to_string(shift);
        auto want = random_bytes(count * size, 3000 + count);
        DeviceArray data(count, size, shift);
        data.upload(want);
        host_finish(type, finish, want.data(), count);
        ASSERT_NO_THROW(device_finish(type, finish, data.data(), count, nullptr)) << label;
        ASSERT_CUDA(cudaDeviceSynchronize());
        expect_matches(type, data, data.download_all(), want, label);
        if (HasFailure()) return;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DeviceFinishTest, ::testing::ValuesIn(all_datatypes()),
                         [](const auto& info) { return std::string(datatype_name(info.param)); });

// Without a GPU the kernels cannot launch: that must surface as Error(kCuda)
// naming the call, not a crash or a silent no-op.
TEST(DeviceReduceWithoutGpu, LaunchFailsWithCudaError) {
  if (cuda_device_available()) GTEST_SKIP() << "a GPU is present; this checks the no-GPU error path";
  float a = 1, b = 2, dst = 0;
  try {
    device_reduce(DataType::kFloat32, ReduceOp::kSum, &dst, &a, &b, 1, nullptr);
    ADD_FAILURE() << "device_reduce without a GPU did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCuda);
    EXPECT_NE(std::string(e.what()).find("device_reduce"), std::string::npos) << e.what();
  }
  // An empty reduction touches nothing and so succeeds anywhere.
  EXPECT_NO_THROW(device_reduce(DataType::kFloat32, ReduceOp::kSum, &dst, &a, &b, 0, nullptr));
}

}  // namespace
}  // namespace strata
