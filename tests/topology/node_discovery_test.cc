#include "topology/node_discovery.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace strata::topology {
namespace {

// Holds on any machine: hwloc always sees at least one core and, on Linux,
// at least one NUMA node (a machine without NUMA shows one).
TEST(NodeDiscovery, FindsCoresAndNumaHere) {
  const NodeHardware hardware = discover_node_hardware();
  ASSERT_TRUE(hardware.discovered) << hardware.error;
  EXPECT_GE(hardware.cores, 1);
  EXPECT_GE(hardware.pus, hardware.cores);
  EXPECT_GE(hardware.packages, 1);
  ASSERT_GE(hardware.numa.size(), 1u);
  int numa_cores = 0;
  for (const NumaDomain& domain : hardware.numa) numa_cores += domain.cores;
  EXPECT_EQ(numa_cores, hardware.cores);
  EXPECT_GT(hardware.numa.front().memory_bytes, 0u);
  // Every device's NUMA domains are ones the node has.
  for (const auto* devices : {&hardware.gpus, &hardware.nics})
    for (const NodeDevice& device : *devices)
      for (int numa : device.numa) {
        bool known = false;
        for (const NumaDomain& domain : hardware.numa) known |= domain.os_index == numa;
        EXPECT_TRUE(known) << device.name << " on NUMA " << numa;
      }
  EXPECT_LT(hardware.discovery_seconds, 5.0);
}

NodeHardware sample() {
  NodeHardware hardware;
  hardware.discovered = true;
  hardware.packages = 2;
  hardware.cores = 64;
  hardware.pus = 128;
  hardware.numa = {{0, uint64_t{256} << 30, 32}, {1, uint64_t{256} << 30, 32}};
  hardware.gpus = {{"cuda0", "0000:17:00.0", "NVIDIA H100", {0}}, {"0000:b1:00.0", "0000:b1:00.0", "[10de:2330]", {1}}};
  hardware.nics = {{"eth0,mlx5_0", "0000:18:00.0", "Mellanox ConnectX-7", {0}}, {"eth1", "0000:00:03.0", "virtio", {}}};
  hardware.discovery_seconds = 0.012;
  return hardware;
}

TEST(NodeDiscovery, JsonRoundTrip) {
  const NodeHardware original = sample();
  const NodeHardware copy = node_hardware_from_json(node_hardware_to_json(original), "test");
  EXPECT_EQ(copy.discovered, original.discovered);
  EXPECT_EQ(copy.cores, 64);
  EXPECT_EQ(copy.pus, 128);
  EXPECT_EQ(copy.packages, 2);
  ASSERT_EQ(copy.numa.size(), 2u);
  EXPECT_EQ(copy.numa[1].os_index, 1);
  EXPECT_EQ(copy.numa[1].memory_bytes, uint64_t{256} << 30);
  ASSERT_EQ(copy.gpus.size(), 2u);
  EXPECT_EQ(copy.gpus[0].name, "cuda0");
  EXPECT_EQ(copy.gpus[1].model, "[10de:2330]");
  EXPECT_EQ(copy.gpus[1].numa, std::vector<int>{1});
  ASSERT_EQ(copy.nics.size(), 2u);
  EXPECT_EQ(copy.nics[0].pci_bus_id, "0000:18:00.0");
  EXPECT_TRUE(copy.nics[1].numa.empty());
  EXPECT_NEAR(copy.discovery_seconds, 0.012, 1e-9);
  EXPECT_EQ(node_hardware_to_json(copy), node_hardware_to_json(original));
  // What this machine found survives the trip as well.
  const NodeHardware here = discover_node_hardware();
  EXPECT_EQ(node_hardware_to_json(node_hardware_from_json(node_hardware_to_json(here), "here")),
            node_hardware_to_json(here));
}

std::string error_of(const std::string& text) {
  try {
    node_hardware_from_json(text, "rank 3");
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    return error.what();
  }
  ADD_FAILURE() << "no error for " << text;
  return "";
}

TEST(NodeDiscovery, BadJsonNamesOriginAndField) {
  EXPECT_NE(error_of("{").find("node hardware from rank 3: (document)"), std::string::npos);
  // A number too large for a double is nlohmann's out_of_range, not a parse error.
  EXPECT_NE(error_of(R"({"cores": 1e999})").find("(document)"), std::string::npos);
  std::string text = node_hardware_to_json(sample());
  text.replace(text.find("\"cores\":64"), 10, "\"cores\":\"x\"");
  EXPECT_NE(error_of(text).find("rank 3: (top level).cores: wrong type"), std::string::npos) << error_of(text);
  text = node_hardware_to_json(sample());
  text.replace(text.find("\"model\":\"virtio\""), 16, "\"mode\":1");
  EXPECT_NE(error_of(text).find("nics[1].model: missing"), std::string::npos) << error_of(text);
}

TEST(NodeDiscovery, Summary) {
  EXPECT_EQ(node_hardware_summary(sample()), "2 NUMA, 64 cores / 128 threads, 2 GPU, 2 NIC");
  NodeHardware failed;
  failed.error = "hwloc_topology_load failed";
  EXPECT_EQ(node_hardware_summary(failed), "not discovered: hwloc_topology_load failed");
}

}  // namespace
}  // namespace strata::topology
