// CUDA device buffers of a communicator whose ranks all run on this host,
// copied and reduced through CUDA IPC: every rank maps its peers' device
// scratch (runtime/device/mapped_scratch.h), so the data never leaves the GPU(s).
// EXPERIMENTAL and off unless STRATA_NCCL_CUDA_IPC=1: written and tested on
// the host protocol only, not yet run on a GPU.
//
// Every rank must take the same path for a call, so with the option on the
// ranks of a call must agree on the kind of their buffers (all device or
// all host, as NCCL requires device buffers anyway); a mix makes the ranks
// run different protocols and fail with a timeout (STRATA_TIMEOUT).
#pragma once

#include "nccl.h"
#include "runtime/device/mapped_scratch.h"
#include "nccl/comm_handle.h"

namespace strata::nccl {

// Runs `call` through CUDA IPC when it qualifies: the option is on, no group
// is open, every buffer this rank uses is device memory, all ranks of the
// communicator share this host, and the ranks could map each other's scratch
// (agreed by all of them the first time). Returns false, having done
// nothing, otherwise: the caller stages through host memory instead. The
// caller blocks until the result is in place, as with synchronous staging.
bool run_on_device_ipc(const CommRef& ref, const runtime::ScratchCall& call, cudaStream_t stream);

// Frees the communicator's IPC scratch and unmaps its peers' (destroy, abort).
void release_device_ipc(const runtime::Communicator* comm);

}  // namespace strata::nccl
