#include "topology/topology_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "common/error.h"

namespace strata::topology {
namespace {

std::string error_of(const std::string& json) {
  try {
    parse_topology_file(json, "/etc/topo.json");
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    return error.what();
  }
  ADD_FAILURE() << "no error for " << json;
  return "";
}

// Ranks compare this hash to catch different files (runtime/probe/topology_probe.cc).
TEST(TopologyFile, ContentHash) {
  const std::string text = R"({"sites": [{"name": "eu", "hosts": ["n1"]}]})";
  EXPECT_EQ(parse_topology_file(text, "a.json").content_hash, topology_file_hash(text));
  EXPECT_EQ(topology_file_hash(text), topology_file_hash(std::string(text)));
  EXPECT_NE(topology_file_hash(text), topology_file_hash(text + " "));
  EXPECT_NE(topology_file_hash(R"({"sites": [{"name": "eu", "hosts": ["n2"]}]})"), topology_file_hash(text));
}

TEST(TopologyFile, ParsesSitesAndLinks) {
  const TopologyFile file = parse_topology_file(
      R"({"sites": [{"name": "eu", "hosts": ["n1", "n2"]}, {"name": "us", "hosts": ["n3"]}],
          "links": [{"a": "eu", "b": "us", "rtt_ms": 80, "gbps": 10}, {"a": 1, "b": 0, "rtt_ms": 81.5}]})",
      "t.json");
  ASSERT_EQ(file.sites.size(), 2u);
  EXPECT_EQ(file.sites[0].name, "eu");
  EXPECT_EQ(file.sites[0].hosts, (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(file.site_of_host("n3"), 1);
  EXPECT_EQ(file.site_of_host("n9"), std::nullopt);
  ASSERT_EQ(file.links.size(), 2u);
  EXPECT_EQ(file.links[0].site_a, 0);
  EXPECT_EQ(file.links[0].site_b, 1);
  EXPECT_DOUBLE_EQ(file.links[0].rtt_ms, 80);
  EXPECT_DOUBLE_EQ(file.links[0].gbps, 10);
  EXPECT_EQ(file.links[1].site_a, 1);
  EXPECT_DOUBLE_EQ(file.links[1].gbps, 0);
}

TEST(TopologyFile, ErrorsNameTheFileAndTheField) {
  EXPECT_NE(error_of("{").find("/etc/topo.json: (syntax)"), std::string::npos);
  // Found by tests/fuzz/topology_file_fuzz: a number too large for a double
  // is nlohmann's out_of_range, not a parse_error, and ended the process.
  EXPECT_NE(error_of(R"({"sites": [{"name": "eu", "hosts": ["n1"]}], "x": 1e999})").find("(syntax)"),
            std::string::npos);
  EXPECT_NE(error_of("{}").find("sites"), std::string::npos);
  EXPECT_NE(error_of(R"({"sites": []})").find("sites: expected a non-empty array"), std::string::npos);
  EXPECT_NE(error_of(R"({"sites": [{"hosts": ["a"]}]})").find("sites[0].name: missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"sites": [{"name": "x", "hosts": ["a", 7]}]})").find("sites[0].hosts[1]: expected a string"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"sites": [{"name": "x", "hosts": ["a"]}, {"name": "x", "hosts": ["b"]}]})")
                .find("sites[1].name: site 'x' is listed twice"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"sites": [{"name": "x", "hosts": ["a"]}, {"name": "y", "hosts": ["a"]}]})")
                .find("sites[1].hosts[0]: host 'a' is already in site 'x'"),
            std::string::npos);
  const std::string two_sites = R"({"sites": [{"name": "x", "hosts": ["a"]}, {"name": "y", "hosts": ["b"]}], )";
  EXPECT_NE(error_of(two_sites + R"("links": [{"a": "x", "b": "z", "rtt_ms": 1}]})").find("links[0].b: unknown site 'z'"),
            std::string::npos);
  EXPECT_NE(error_of(two_sites + R"("links": [{"a": "x", "b": "y", "rtt_ms": -1}]})")
                .find("links[0].rtt_ms: expected a non-negative number"),
            std::string::npos);
  EXPECT_NE(error_of(two_sites + R"("links": [{"a": "x", "b": "y"}]})").find("links[0].rtt_ms: missing"),
            std::string::npos);
  EXPECT_NE(error_of(two_sites + R"("links": [{"a": "x", "b": "x", "rtt_ms": 1}]})").find("links[0]"),
            std::string::npos);
}

TEST(TopologyFile, LoadsFromDiskAndNamesAMissingFile) {
  const std::string path = ::testing::TempDir() + "/strata_topology_file_test.json";
  std::ofstream(path) << R"({"sites": [{"name": "only", "hosts": ["h"]}]})";
  EXPECT_EQ(load_topology_file(path).sites.at(0).name, "only");
  std::remove(path.c_str());
  try {
    load_topology_file(path);
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos);
  }
}

}  // namespace
}  // namespace strata::topology
