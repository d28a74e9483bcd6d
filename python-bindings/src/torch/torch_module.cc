// strata._torch_backend: ProcessGroupStrata for Python. strata/torch.py
// registers it with torch.distributed as the backend "strata".
#include <pybind11/chrono.h>
#include <torch/csrc/utils/pybind.h>

#include "../py_errors.h"
#include "process_group_strata.h"

namespace py = pybind11;
using strata::torch_backend::BackendBase;
using strata::torch_backend::ProcessGroupStrata;

PYBIND11_MODULE(_torch_backend, m) {
  m.doc() = "The torch.distributed backend 'strata' (import strata.torch to register it).";
  py::module_::import("torch.distributed");  // registers the base class with pybind11
  strata::python::register_error_translator(m);
  py::class_<ProcessGroupStrata, BackendBase, c10::intrusive_ptr<ProcessGroupStrata>>(m, "ProcessGroupStrata")
      .def(py::init([](const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                       std::chrono::duration<float> timeout) {
             py::gil_scoped_release release;  // creation waits on the other ranks
             return c10::make_intrusive<ProcessGroupStrata>(store, rank, size, timeout);
           }),
           py::arg("store"), py::arg("rank"), py::arg("size"), py::arg("timeout"))
      .def_property_readonly("comm_timeout", [](ProcessGroupStrata& self) { return self.communicator().timeout_s(); })
      .def("topology_sites", [](ProcessGroupStrata& self) { return self.communicator().topology().site_count; });
  m.attr("torch_version_major") = TORCH_VERSION_MAJOR;
}
