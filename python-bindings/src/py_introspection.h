// What a communicator knows, as plain Python data: the topology and link
// model, and the configuration table.
#pragma once

#include <pybind11/pybind11.h>

#include "topology/topology.h"

namespace strata::python {

// Ranks (host, node, site), sites, the measured or assumed link model.
pybind11::dict topology_dict(const topology::Topology& topology, int rank);

// strata.config(): every STRATA_* variable with its value, default and help.
void bind_introspection(pybind11::module_& module);

}  // namespace strata::python
