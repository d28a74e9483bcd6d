// Python objects with the buffer protocol as memory an operation reads or
// writes. The Python layer (strata/_arrays.py) turns NumPy arrays, DLPack
// capsules and other buffers into C-contiguous arrays and checks shapes;
// this is the last line: it never lets a bad buffer reach the engine.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

#include "common/error.h"

namespace strata::python {

// A held view of one buffer: the memory stays valid (and a bytearray stays
// unresizable) until the view is released.
class BufferArg {
 public:
  BufferArg() = default;
  // None gives an empty view. Throws Error(kInvalidArgument) naming `name`
  // and the rank in `context` when `object` has no buffer interface, is not
  // C-contiguous, or is read-only where `writable`.
  BufferArg(const pybind11::handle& object, const char* name, bool writable, const ErrorContext& context);
  ~BufferArg();
  BufferArg(const BufferArg&) = delete;
  BufferArg& operator=(const BufferArg&) = delete;
  BufferArg(BufferArg&& other) noexcept;
  BufferArg& operator=(BufferArg&& other) = delete;

  void* data() const { return held_ ? view_.buf : nullptr; }
  uint64_t bytes() const { return held_ ? static_cast<uint64_t>(view_.len) : 0; }

 private:
  Py_buffer view_{};
  bool held_ = false;
};

}  // namespace strata::python
