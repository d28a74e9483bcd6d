// What is inside one node (host): NUMA domains, cores, GPUs and NICs, and
// which NUMA domain each device is attached to. Discovered with hwloc once
// per node (by the node leader) and shared with every rank as JSON, so every
// rank holds the same picture (Topology::hardware_of_node).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::topology {

struct NumaDomain {
  int os_index = 0;           // the kernel's NUMA node number
  uint64_t memory_bytes = 0;  // local memory
  int cores = 0;              // physical cores whose CPUs are local to it
};

// A PCI device the runtime cares about (a GPU or a network interface).
struct NodeDevice {
  std::string name;            // OS name(s): "eth0", "mlx5_0", "cuda0"; or the PCI address when it has none
  std::string pci_bus_id;      // "0000:17:00.0"; empty when not a PCI device
  std::string model;           // vendor/device description, or "[10de:2330]" when hwloc has no name
  std::vector<int> numa;       // NUMA domains it is local to (os indices); empty when unknown
};

struct NodeHardware {
  bool discovered = false;  // false: hwloc failed (see error) or discovery was not run
  std::string error;
  int packages = 0;
  int cores = 0;  // physical cores
  int pus = 0;    // hardware threads
  std::vector<NumaDomain> numa;
  std::vector<NodeDevice> gpus;
  std::vector<NodeDevice> nics;  // network interfaces and RDMA (OpenFabrics) devices on PCI
  double discovery_seconds = 0;
};

// Asks hwloc about this machine (CPUs, memory, PCI devices). Components
// that would initialize a GPU runtime (CUDA, OpenCL, GL) are not loaded, so
// this costs milliseconds and never creates a device context; NVIDIA GPUs
// are found as PCI devices. Never throws: a failure is reported in `error`.
NodeHardware discover_node_hardware();

// JSON for the bootstrap and for strata-topo --json. from_json throws
// Error(kInvalidArgument) naming `origin` and the field that is wrong.
std::string node_hardware_to_json(const NodeHardware& hardware);
NodeHardware node_hardware_from_json(std::string_view text, const std::string& origin);

// One line for tables: "2 NUMA, 64 cores / 128 threads, 8 GPU, 4 NIC".
std::string node_hardware_summary(const NodeHardware& hardware);

}  // namespace strata::topology
