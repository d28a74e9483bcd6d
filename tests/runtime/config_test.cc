#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "common/error.h"
#include "runtime/config/config.h"

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
