#include "buffer_args.h"

namespace strata::python {

BufferArg::BufferArg(const pybind11::handle& object, const char* name, bool writable, const ErrorContext& context) {
  if (object.is_none()) return;
  const int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(object.ptr(), &view_, flags) != 0) {
    PyErr_Clear();
    // Tell apart the three reasons, so the message says which one it is.
    Py_buffer probe{};
    if (PyObject_GetBuffer(object.ptr(), &probe, PyBUF_STRIDES) != 0) {
      PyErr_Clear();
      fail(ErrorCode::kInvalidArgument, context, "{} ({}) does not support the buffer protocol", name,
           Py_TYPE(object.ptr())->tp_name);
    }
    const bool contiguous = PyBuffer_IsContiguous(&probe, 'C') != 0;
    PyBuffer_Release(&probe);
    if (!contiguous) fail(ErrorCode::kInvalidArgument, context, "{} is not C-contiguous", name);
    fail(ErrorCode::kInvalidArgument, context, "{} is read-only, but the operation writes it", name);
  }
  held_ = true;
}

BufferArg::BufferArg(BufferArg&& other) noexcept : view_(other.view_), held_(other.held_) { other.held_ = false; }

BufferArg::~BufferArg() {
  if (held_) PyBuffer_Release(&view_);
}

}  // namespace strata::python
