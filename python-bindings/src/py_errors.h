// strata::Error as the Python exceptions of strata/_errors.py, which carry
// the code, rank, peer and operation as attributes.
#pragma once

#include <pybind11/pybind11.h>

namespace strata::python {

void register_error_translator(pybind11::module_& module);

}  // namespace strata::python
