#include "py_errors.h"

#include "common/error.h"

namespace py = pybind11;

namespace strata::python {
namespace {

// The names strata/_errors.py knows the codes by.
const char* code_key(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kInvalidUsage: return "invalid_usage";
    case ErrorCode::kSystem: return "system";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kRemote: return "remote";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kAborted: return "aborted";
    case ErrorCode::kCuda: return "cuda";
  }
  return "internal";
}

void raise_python(const Error& error) {
  py::module_ errors = py::module_::import("strata._errors");
  py::object type = errors.attr("error_class")(code_key(error.code()));
  const ErrorContext& context = error.context();
  py::object instance = type(error.what(), py::arg("code") = code_key(error.code()),
                             py::arg("rank") = context.rank < 0 ? py::object(py::none()) : py::int_(context.rank),
                             py::arg("peer") = context.peer < 0 ? py::object(py::none()) : py::int_(context.peer),
                             py::arg("operation") = context.operation);
  PyErr_SetObject(type.ptr(), instance.ptr());
}

}  // namespace

void register_error_translator(py::module_& module) {
  (void)module;
  py::register_exception_translator([](std::exception_ptr pointer) {
    if (!pointer) return;
    try {
      std::rethrow_exception(pointer);
    } catch (const Error& error) {
      try {
        raise_python(error);
      } catch (py::error_already_set& nested) {
        nested.restore();  // strata._errors itself failed: show that
      }
    }
  });
}

}  // namespace strata::python
