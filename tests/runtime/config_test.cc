#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "common/error.h"
#include "runtime/config/config.h"
#include "runtime/config/nccl_env.h"

namespace strata::runtime {
namespace {

std::map<std::string, std::string> g_env;
const char* fake_env(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}

TEST(ConfigTest, DefaultsComeFromTheTable) {
  g_env.clear();
  const Config config = parse_config(fake_env);
  EXPECT_EQ(config.timeout_s, 300);
  EXPECT_EQ(config.debug, LogLevel::kWarn);
  EXPECT_EQ(config.chunk_bytes, 0u);
  EXPECT_EQ(config.spin_us, -1);
  EXPECT_EQ(config.yield_us, -1);
  EXPECT_TRUE(config.shm);
  EXPECT_EQ(config.probe_ms, 1000);
}

TEST(ConfigTest, ParsesTypedValues) {
  g_env = {{"STRATA_DEBUG", "INFO"}, {"STRATA_TIMEOUT", "2.5"}, {"STRATA_CHUNK", "512K"}, {"STRATA_UCX_SHM", "0"},
           {"STRATA_WINDOW", "4096"}, {"STRATA_SPIN_US", "-1"}, {"STRATA_SITE", "east"}};
  const Config config = parse_config(fake_env);
  EXPECT_EQ(config.window, 4096);
  EXPECT_EQ(config.spin_us, -1);
  EXPECT_EQ(config.site, "east");
  EXPECT_EQ(config.debug, LogLevel::kInfo);
  EXPECT_EQ(config.timeout_s, 2.5);
  EXPECT_EQ(config.chunk_bytes, 512u << 10);
  EXPECT_FALSE(config.ucx_shm);
}

TEST(ConfigTest, BadValuesNameTheVariable) {
  for (auto [name, value] : std::map<std::string, std::string>{
           {"STRATA_DEBUG", "LOUD"}, {"STRATA_TIMEOUT", "-1"}, {"STRATA_CHUNK", "12Q"}, {"STRATA_SPIN_US", "x"},
           {"STRATA_WINDOW", "4097"}, {"STRATA_LANES", "17"}, {"STRATA_PROBE_MS", "0"}, {"STRATA_SHM", "maybe"}}) {
    g_env = {{name, value}};
    try {
      parse_config(fake_env);
      ADD_FAILURE() << name << "=" << value << " was accepted";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(name), std::string::npos) << error.what();
    }
  }
}

TEST(ConfigTest, ByteCountsThatDoNotFitAreRejected) {
  EXPECT_EQ(parse_bytes("16G"), uint64_t{16} << 30);
  EXPECT_EQ(parse_bytes("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(parse_bytes("17179869183G"), uint64_t{17179869183} << 30);
  EXPECT_THROW(parse_bytes("17179869184G"), Error);          // was 0
  EXPECT_THROW(parse_bytes("99999999999999999999"), Error);  // wrapped
  EXPECT_THROW(parse_bytes("18446744073709551616"), Error);
  g_env = {{"STRATA_CHUNK", "17179869184G"}};
  try {
    parse_config(fake_env);
    ADD_FAILURE() << "STRATA_CHUNK=17179869184G was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("STRATA_CHUNK"), std::string::npos) << error.what();
  }
}

TEST(ConfigTest, NcclVariablesStandInWhenTheStrataOnesAreUnset) {
  g_env = {{"NCCL_DEBUG", "info"}, {"NCCL_SOCKET_IFNAME", "=eth0"}, {"NCCL_ALGO", "Ring"}};
  Config config = parse_config(fake_env);
  EXPECT_EQ(config.debug, LogLevel::kInfo);
  EXPECT_EQ(config.socket_ifname, "=eth0");
  EXPECT_EQ(config.algo, "ring");
  EXPECT_TRUE(ignored_nccl_settings(fake_env).empty());
  g_env["STRATA_DEBUG"] = "TRACE";  // the STRATA_* variable wins, and the NCCL one is reported
  config = parse_config(fake_env);
  EXPECT_EQ(config.debug, LogLevel::kTrace);
  const auto ignored = ignored_nccl_settings(fake_env);
  ASSERT_EQ(ignored.size(), 1u);
  EXPECT_NE(ignored[0].find("NCCL_DEBUG=info is ignored: STRATA_DEBUG is set"), std::string::npos) << ignored[0];
}

TEST(ConfigTest, NcclVariablesWithoutAStrataMeaningAreReported) {
  g_env = {{"NCCL_PROTO", "LL128"}, {"NCCL_ALGO", "Tree"}, {"NCCL_COMM_ID", "10.0.0.1:5000"}};
  const Config config = parse_config(fake_env);
  EXPECT_EQ(config.algo, "");
  const auto ignored = ignored_nccl_settings(fake_env);
  ASSERT_EQ(ignored.size(), 3u);
  for (const char* name : {"NCCL_ALGO=Tree", "NCCL_PROTO=LL128", "NCCL_COMM_ID=10.0.0.1:5000"})
    EXPECT_TRUE(std::any_of(ignored.begin(), ignored.end(),
                            [&](const std::string& line) { return line.find(name) != std::string::npos; }))
        << name;
}

TEST(ConfigTest, EveryVariableIsDeclaredOnceWithHelp) {
  std::set<std::string_view> names;
  for (const ConfigVar& var : config_table()) {
    EXPECT_TRUE(names.insert(var.name).second) << var.name;
    EXPECT_FALSE(var.help.empty()) << var.name;
    EXPECT_TRUE(var.name.starts_with("STRATA_")) << var.name;
  }
}

}  // namespace
}  // namespace strata::runtime
