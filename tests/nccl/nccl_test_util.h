// Helpers shared by the single-process NCCL API tests (our header, C++).
#pragma once

#include <gtest/gtest.h>
#include <nccl.h>

#include <array>
#include <initializer_list>
#include <string>

// Expects `got == want` and that ncclGetLastError mentions every word.
inline ::testing::AssertionResult FailsWith(ncclResult_t got, ncclResult_t want,
                                            std::initializer_list<const char*> words) {
  const std::string text = ncclGetLastError(nullptr);
  if (got != want) {
    return ::testing::AssertionFailure() << "result " << got << " (" << ncclGetErrorString(got) << "), expected "
                                         << want << "; last error: " << text;
  }
  for (const char* word : words) {
    if (text.find(word) == std::string::npos) {
      return ::testing::AssertionFailure() << "last error does not mention '" << word << "': " << text;
    }
  }
  return ::testing::AssertionSuccess();
}

#define NCCL_ASSERT_OK(call) ASSERT_EQ((call), ncclSuccess) << #call << ": " << ncclGetLastError(nullptr)
#define NCCL_EXPECT_OK(call) EXPECT_EQ((call), ncclSuccess) << #call << ": " << ncclGetLastError(nullptr)

// N ranks of one process (ncclCommInitAll), destroyed after each test.
template <int N>
class ncclLocalRanks : public ::testing::Test {
 protected:
  static constexpr int kRanks = N;
  void SetUp() override { NCCL_ASSERT_OK(ncclCommInitAll(comms_.data(), N, nullptr)); }
  void TearDown() override {
    for (ncclComm_t comm : comms_) NCCL_EXPECT_OK(ncclCommDestroy(comm));
  }
  std::array<ncclComm_t, N> comms_{};
};
