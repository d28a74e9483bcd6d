#include "topology/node_discovery.h"

#include <hwloc.h>

#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace strata::topology {
namespace {

using nlohmann::json;

// PCI class codes (upper byte): display controllers, network controllers.
constexpr unsigned kClassDisplay = 0x03;
constexpr unsigned kClassNetwork = 0x02;
constexpr unsigned kClass3dController = 0x0302;
constexpr unsigned kVendorNvidia = 0x10de;
constexpr unsigned kVendorAmd = 0x1002;

struct TopologyDeleter {
  void operator()(hwloc_topology* topology) const { hwloc_topology_destroy(topology); }
};
using TopologyPtr = std::unique_ptr<hwloc_topology, TopologyDeleter>;

// A GPU is a 3D controller, or a display controller from a GPU vendor: a
// VM's emulated VGA adapter is a display controller too and must not count.
bool is_gpu(const hwloc_obj_attr_u::hwloc_pcidev_attr_s& pci) {
  if (pci.class_id == kClass3dController) return true;
  return (pci.class_id >> 8) == kClassDisplay && (pci.vendor_id == kVendorNvidia || pci.vendor_id == kVendorAmd);
}

std::vector<int> numa_of(hwloc_topology_t topology, hwloc_obj_t object) {
  std::vector<int> numa;
  const hwloc_obj_t ancestor = hwloc_get_non_io_ancestor_obj(topology, object);
  if (ancestor == nullptr || ancestor->nodeset == nullptr) return numa;
  // A device under the machine object (no closer locality) is local to all
  // nodes; that says nothing, so report it as unknown.
  if (ancestor->type == HWLOC_OBJ_MACHINE && hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_NUMANODE) > 1) return numa;
  unsigned index = 0;
  hwloc_bitmap_foreach_begin(index, ancestor->nodeset) numa.push_back(static_cast<int>(index));
  hwloc_bitmap_foreach_end();
  return numa;
}

// The OS devices hwloc attached below a PCI device ("eth0", "mlx5_0", ...).
void os_devices(hwloc_obj_t pci, std::string& names, bool& networking) {
  for (hwloc_obj_t child = pci->io_first_child; child != nullptr; child = child->next_sibling) {
    if (child->type != HWLOC_OBJ_OS_DEVICE || child->name == nullptr) continue;
    names += (names.empty() ? "" : ",") + std::string(child->name);
    const auto type = child->attr->osdev.type;
    networking |= type == HWLOC_OBJ_OSDEV_NETWORK || type == HWLOC_OBJ_OSDEV_OPENFABRICS;
  }
}

NodeDevice pci_device(hwloc_topology_t topology, hwloc_obj_t pci, std::string names) {
  const hwloc_obj_attr_u::hwloc_pcidev_attr_s& attr = pci->attr->pcidev;
  NodeDevice device;
  device.pci_bus_id = fmt::format("{:04x}:{:02x}:{:02x}.{:x}", attr.domain, attr.bus, attr.dev, attr.func);
  device.name = names.empty() ? device.pci_bus_id : std::move(names);
  const char* vendor = hwloc_obj_get_info_by_name(pci, "PCIVendor");
  const char* model = hwloc_obj_get_info_by_name(pci, "PCIDevice");
  device.model = vendor != nullptr && model != nullptr ? fmt::format("{} {}", vendor, model)
                 : pci->name != nullptr                ? std::string(pci->name)
                                                       : fmt::format("[{:04x}:{:04x}]", attr.vendor_id, attr.device_id);
  device.numa = numa_of(topology, pci);
  return device;
}

void collect_numa(hwloc_topology_t topology, NodeHardware& hardware) {
  for (hwloc_obj_t node = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, nullptr); node != nullptr;
       node = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_NUMANODE, node)) {
    hardware.numa.push_back({.os_index = static_cast<int>(node->os_index),
                             .memory_bytes = node->attr->numanode.local_memory,
                             .cores = hwloc_get_nbobjs_inside_cpuset_by_type(topology, node->cpuset, HWLOC_OBJ_CORE)});
  }
}

void collect_devices(hwloc_topology_t topology, NodeHardware& hardware) {
  for (hwloc_obj_t pci = hwloc_get_next_pcidev(topology, nullptr); pci != nullptr;
       pci = hwloc_get_next_pcidev(topology, pci)) {
    std::string names;
    bool networking = false;
    os_devices(pci, names, networking);
    if (is_gpu(pci->attr->pcidev)) hardware.gpus.push_back(pci_device(topology, pci, std::move(names)));
    else if (networking || (pci->attr->pcidev.class_id >> 8) == kClassNetwork)
      hardware.nics.push_back(pci_device(topology, pci, std::move(names)));
  }
}

int count(hwloc_topology_t topology, hwloc_obj_type_t type) {
  return std::max(0, hwloc_get_nbobjs_by_type(topology, type));
}

}  // namespace

NodeHardware discover_node_hardware() {
  const auto start = std::chrono::steady_clock::now();
  NodeHardware hardware;
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) {
    hardware.error = "hwloc_topology_init failed";
    return hardware;
  }
  TopologyPtr topology(raw);
  hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  // These would start a GPU runtime (or a display connection) in every
  // process at communicator creation; PCI discovery finds the GPUs anyway.
  // A name hwloc does not know is harmless, so return values are ignored.
  for (const char* component : {"cuda", "nvml", "opencl", "gl", "rsmi", "levelzero"})
    hwloc_topology_set_components(raw, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, component);
  if (hwloc_topology_load(raw) != 0) {
    hardware.error = "hwloc_topology_load failed";
    return hardware;
  }
  hardware.packages = count(raw, HWLOC_OBJ_PACKAGE);
  hardware.cores = count(raw, HWLOC_OBJ_CORE);
  hardware.pus = count(raw, HWLOC_OBJ_PU);
  collect_numa(raw, hardware);
  collect_devices(raw, hardware);
  hardware.discovered = true;
  hardware.discovery_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return hardware;
}

namespace {

json device_json(const NodeDevice& device) {
  return {{"name", device.name}, {"pci", device.pci_bus_id}, {"model", device.model}, {"numa", device.numa}};
}

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& why) {
  fail(ErrorCode::kInvalidArgument, {-1, -1, "node hardware"}, "node hardware from {}: {}: {}", origin, field, why);
}

const json& member(const json& object, const char* key, const std::string& origin, const std::string& field) {
  if (!object.is_object()) bad(origin, field, "expected an object");
  const auto found = object.find(key);
  if (found == object.end()) bad(origin, field + "." + key, "missing");
  return *found;
}

template <typename T>
T get(const json& object, const char* key, const std::string& origin, const std::string& field) {
  const json& value = member(object, key, origin, field);
  try {
    return value.get<T>();
  } catch (const json::exception&) {
    bad(origin, field + "." + key, "wrong type (" + std::string(value.type_name()) + ")");
  }
}

std::vector<NodeDevice> devices_from_json(const json& root, const char* key, const std::string& origin) {
  const json& list = member(root, key, origin, "(top level)");
  if (!list.is_array()) bad(origin, key, "expected an array");
  std::vector<NodeDevice> devices;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = fmt::format("{}[{}]", key, i);
    devices.push_back({.name = get<std::string>(list[i], "name", origin, field),
                       .pci_bus_id = get<std::string>(list[i], "pci", origin, field),
                       .model = get<std::string>(list[i], "model", origin, field),
                       .numa = get<std::vector<int>>(list[i], "numa", origin, field)});
  }
  return devices;
}

}  // namespace

std::string node_hardware_to_json(const NodeHardware& hardware) {
  json numa = json::array();
  for (const NumaDomain& domain : hardware.numa)
    numa.push_back({{"os_index", domain.os_index}, {"memory_bytes", domain.memory_bytes}, {"cores", domain.cores}});
  json gpus = json::array(), nics = json::array();
  for (const NodeDevice& gpu : hardware.gpus) gpus.push_back(device_json(gpu));
  for (const NodeDevice& nic : hardware.nics) nics.push_back(device_json(nic));
  const json out{{"discovered", hardware.discovered}, {"error", hardware.error},   {"packages", hardware.packages},
                 {"cores", hardware.cores},           {"pus", hardware.pus},       {"numa", numa},
                 {"gpus", gpus},                      {"nics", nics},
                 {"discovery_ms", hardware.discovery_seconds * 1e3}};
  return out.dump();
}

NodeHardware node_hardware_from_json(std::string_view text, const std::string& origin) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& error) {  // parse_error, and out_of_range for a number too large
    bad(origin, "(document)", fmt::format("not valid JSON: {}", error.what()));
  }
  const std::string top = "(top level)";
  NodeHardware hardware;
  hardware.discovered = get<bool>(root, "discovered", origin, top);
  hardware.error = get<std::string>(root, "error", origin, top);
  hardware.packages = get<int>(root, "packages", origin, top);
  hardware.cores = get<int>(root, "cores", origin, top);
  hardware.pus = get<int>(root, "pus", origin, top);
  hardware.discovery_seconds = get<double>(root, "discovery_ms", origin, top) / 1e3;
  const json& numa = member(root, "numa", origin, top);
  if (!numa.is_array()) bad(origin, "numa", "expected an array");
  for (size_t i = 0; i < numa.size(); ++i) {
    const std::string field = fmt::format("numa[{}]", i);
    hardware.numa.push_back({.os_index = get<int>(numa[i], "os_index", origin, field),
                             .memory_bytes = get<uint64_t>(numa[i], "memory_bytes", origin, field),
                             .cores = get<int>(numa[i], "cores", origin, field)});
  }
  hardware.gpus = devices_from_json(root, "gpus", origin);
  hardware.nics = devices_from_json(root, "nics", origin);
  return hardware;
}

std::string node_hardware_summary(const NodeHardware& hardware) {
  if (!hardware.discovered) return hardware.error.empty() ? "not discovered" : "not discovered: " + hardware.error;
  return fmt::format("{} NUMA, {} cores / {} threads, {} GPU, {} NIC", hardware.numa.size(), hardware.cores,
                     hardware.pus, hardware.gpus.size(), hardware.nics.size());
}

}  // namespace strata::topology
