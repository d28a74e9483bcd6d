// Our include/nccl.h against NVIDIA's NCCL 2.28 header: every constant,
// enum value, struct offset and size, initializer value and function type.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "abi_fields.h"

extern "C" int abi_table_nvidia(long* values, int capacity);
extern "C" int abi_table_strata(long* values, int capacity);
extern "C" int abi_table_strata_nocuda(long* values, int capacity);
extern "C" int abi_signatures_nvidia(const char** names, int capacity);
extern "C" int abi_signatures_strata(const char** names, int capacity);
extern "C" int abi_signatures_strata_nocuda(const char** names, int capacity);

namespace {

#define ABI_NAME(expr) #expr,
const char* const kFieldNames[] = {ABI_FIELDS(ABI_NAME)};
#define ABI_FUNCTION_NAME(name) #name, "p" #name,
const char* const kFunctionNames[] = {ABI_FUNCTIONS(ABI_FUNCTION_NAME)};

template <typename T>
std::vector<T> read_table(int (*table)(T*, int)) {
  std::vector<T> values(table(nullptr, 0));
  table(values.data(), static_cast<int>(values.size()));
  return values;
}

void expect_same_facts(int (*ours)(long*, int)) {
  const std::vector<long> nvidia = read_table(abi_table_nvidia);
  const std::vector<long> strata = read_table(ours);
  ASSERT_EQ(nvidia.size(), std::size(kFieldNames));
  ASSERT_EQ(strata.size(), nvidia.size());
  for (size_t i = 0; i < nvidia.size(); ++i) EXPECT_EQ(strata[i], nvidia[i]) << kFieldNames[i];
}

void expect_same_signatures(int (*ours)(const char**, int)) {
  const std::vector<const char*> nvidia = read_table(abi_signatures_nvidia);
  const std::vector<const char*> strata = read_table(ours);
  ASSERT_EQ(nvidia.size(), std::size(kFunctionNames));
  ASSERT_EQ(strata.size(), nvidia.size());
  for (size_t i = 0; i < nvidia.size(); ++i) EXPECT_STREQ(strata[i], nvidia[i]) << kFunctionNames[i];
}

TEST(ncclAbi, EveryConstantOffsetAndSizeMatchesNvidia) { expect_same_facts(abi_table_strata); }

// Our header without CUDA's headers declares cudaStream_t itself.
TEST(ncclAbi, WithoutCudaHeadersTooEveryFactMatches) { expect_same_facts(abi_table_strata_nocuda); }

TEST(ncclAbi, EveryFunctionTypeMatchesNvidia) { expect_same_signatures(abi_signatures_strata); }

TEST(ncclAbi, WithoutCudaHeadersTooEveryFunctionTypeMatches) {
  expect_same_signatures(abi_signatures_strata_nocuda);
}

TEST(ncclAbi, KeyFactsHaveTheirDocumentedValues) {
  // Spot checks that do not depend on NVIDIA's header being right.
  const std::vector<long> strata = read_table(abi_table_strata);
  auto value_of = [&](const std::string& name) {
    for (size_t i = 0; i < std::size(kFieldNames); ++i)
      if (name == kFieldNames[i]) return strata[i];
    ADD_FAILURE() << "no field " << name;
    return -1L;
  };
  EXPECT_EQ(value_of("sizeof(ncclUniqueId)"), 128);
  EXPECT_EQ(value_of("NCCL_VERSION_CODE"), 22809);
  EXPECT_EQ(value_of("init.magic"), 0xcafebeefL);
  EXPECT_EQ(value_of("ncclFloat8e4m3"), 10);
  EXPECT_EQ(value_of("ncclFloat8e5m2"), 11);
  EXPECT_EQ(value_of("ncclMaxRedOp"), 0x7fffffff);
}

}  // namespace
