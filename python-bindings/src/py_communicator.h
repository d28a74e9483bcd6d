// The low-level communicator the Python package wraps (strata/_communicator.py
// gives it NumPy semantics). Every method that waits releases the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>

#include "runtime/bootstrap/bootstrap.h"
#include "runtime/communicator/communicator.h"

namespace strata::python {

class PyCommunicator {
 public:
  PyCommunicator(std::shared_ptr<runtime::Communicator> comm, std::shared_ptr<runtime::Bootstrap> bootstrap)
      : comm_(std::move(comm)), bootstrap_(std::move(bootstrap)) {}

  // The communicator, or Error(kInvalidUsage) naming `operation` once destroyed.
  std::shared_ptr<runtime::Communicator> get(const char* operation) const;
  bool closed() const { return comm_ == nullptr; }
  void destroy();

 private:
  std::shared_ptr<runtime::Communicator> comm_;
  std::shared_ptr<runtime::Bootstrap> bootstrap_;  // kept open for the communicator's life, as NCCL does
  int last_rank_ = -1;
};

void bind_communicator(pybind11::module_& module);

}  // namespace strata::python
