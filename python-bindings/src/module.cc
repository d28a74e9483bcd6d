// strata._strata: the compiled half of `import strata`.
#include <pybind11/pybind11.h>

#include "py_communicator.h"
#include "py_errors.h"
#include "py_introspection.h"

PYBIND11_MODULE(_strata, m) {
  m.doc() = "Strata's native layer; use the `strata` package, which wraps it.";
  strata::python::register_error_translator(m);
  strata::python::bind_communicator(m);
  strata::python::bind_introspection(m);
}
