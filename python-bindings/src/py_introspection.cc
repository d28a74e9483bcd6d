#include "py_introspection.h"

#include <pybind11/stl.h>

#include "runtime/telemetry/metrics_server.h"
#include "runtime/config/config.h"

namespace py = pybind11;

namespace strata::python {
namespace {

py::dict link_dict(const topology::LinkDistance& link) {
  py::dict out;
  out["rtt_s"] = link.rtt_s;
  out["bandwidth_bytes_per_s"] = link.bandwidth_bytes_per_s;
  out["rtt_measured"] = link.rtt_measured;
  out["bandwidth_measured"] = link.bandwidth_measured;
  out["bdp_bytes"] = link.bdp_bytes();
  return out;
}

py::list rank_list(const topology::Topology& topology) {
  py::list ranks;
  for (size_t rank = 0; rank < topology.node_of_rank.size(); ++rank) {
    py::dict entry;
    entry["host"] = topology.host_of_rank[rank];
    entry["node"] = topology.node_of_rank[rank];
    entry["site"] = topology.site_of_rank(static_cast<int>(rank));
    ranks.append(entry);
  }
  return ranks;
}

py::dict links_dict(const topology::Topology& topology) {
  const topology::DistanceModel& model = topology.distances;
  py::list between;
  for (int a = 0; a < model.site_count(); ++a) {
    py::list row;
    for (int b = 0; b < model.site_count(); ++b) row.append(link_dict(model.between_sites(a, b)));
    between.append(row);
  }
  py::dict out;
  out["intra_node"] = link_dict(model.intra_node);
  out["intra_site"] = link_dict(model.intra_site);
  out["between_sites"] = between;
  return out;
}

const char* type_name(runtime::ConfigType type) {
  switch (type) {
    case runtime::ConfigType::kInt: return "int";
    case runtime::ConfigType::kFloat: return "float";
    case runtime::ConfigType::kBytes: return "bytes";
    case runtime::ConfigType::kString: return "string";
    case runtime::ConfigType::kChoice: return "choice";
    case runtime::ConfigType::kBool: return "bool";
  }
  return "string";
}

py::list config_list() {
  const auto values = runtime::config_values();
  py::list out;
  for (const runtime::ConfigVar& var : runtime::config_table()) {
    py::dict entry;
    entry["name"] = std::string(var.name);
    entry["type"] = type_name(var.type);
    entry["default"] = std::string(var.default_value);
    entry["help"] = std::string(var.help);
    entry["choices"] = std::string(var.choices);
    for (const auto& [name, value] : values)
      if (name == var.name) entry["value"] = value;
    out.append(entry);
  }
  return out;
}

}  // namespace

py::dict topology_dict(const topology::Topology& topology, int rank) {
  py::dict out;
  out["rank"] = rank;
  out["ranks"] = rank_list(topology);
  out["node_count"] = topology.node_count;
  out["site_count"] = topology.site_count;
  out["site_names"] = topology.site_names;
  out["site_source"] = topology.site_source;
  out["links"] = links_dict(topology);
  out["probe_seconds"] = topology.probe_seconds;
  out["probe_note"] = topology.probe_note;
  return out;
}

void bind_introspection(py::module_& m) {
  m.def("config", &config_list, "Every STRATA_* variable: name, type, value, default, help.");
  m.def("reload_config", &runtime::reload_config, "Re-reads STRATA_* variables from os.environ.");
  m.def("metrics_text", &runtime::telemetry::prometheus_text,
        "Every live communicator's telemetry in Prometheus text format (docs/telemetry.md).");
}

}  // namespace strata::python
