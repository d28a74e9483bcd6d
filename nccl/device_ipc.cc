#include "nccl/device_ipc.h"

#include <random>

#include "common/log.h"
#include "runtime/config/config.h"
#include "nccl/cuda_driver.h"
#include "nccl/device_memory.h"
#include "nccl/device_staging.h"
#include "nccl/per_comm.h"
#include "runtime/device/scratch_space.h"

#if STRATA_NCCL_CUDA_IPC_BUILT
#include "runtime/device/cuda/ipc_scratch.h"
#endif

namespace strata::nccl {
namespace {

using runtime::ScratchCall;
using runtime::ScratchCollective;

// Largest scratch half: calls larger than this go through in pieces.
constexpr uint64_t kHalfCap = uint64_t{64} << 20;

// The buffers this rank reads or writes in `call`.
struct UsedBuffers {
  bool send = false;
  bool recv = false;
};
UsedBuffers used_buffers(const ScratchCall& call, int rank) {
  switch (call.collective) {
    case ScratchCollective::kBroadcast: return {rank == call.root, true};
    case ScratchCollective::kReduce: return {true, rank == call.root};
    default: return {true, true};
  }
}

// Whether this rank may take the IPC path for `call` (before asking the
// other ranks, which decide the same way from the same arguments).
bool qualifies(const CommRef& ref, const ScratchCall& call) {
  // Zero-count calls stage: their buffers may be null on some ranks only.
  if (!runtime::config().nccl_cuda_ipc || runtime::group_depth() > 0 || ref.size < 2 || call.count == 0) return false;
  if (ref.comm->topology().node_count != 1) return false;
  const UsedBuffers used = used_buffers(call, ref.rank);
  return (!used.send || is_device_memory(call.send)) && (!used.recv || is_device_memory(call.recv));
}

#if STRATA_NCCL_CUDA_IPC_BUILT

uint64_t process_token() {
  static const uint64_t token = [] {
    std::random_device random;
    return (uint64_t{random()} << 32) | random() | 1;
  }();
  return token;
}

// A communicator's scratch and its peers', as mapped here.
struct IpcState {
  CuContext context = nullptr;  // current when the scratch was made (and freed)
  cuda_ipc::DeviceScratchExporter exporter;
  std::unique_ptr<runtime::ScratchSpace> space;

  ~IpcState() {
    const ContextScope scope(context);
    space.reset();
  }
};

PerComm<IpcState>& registry() {
  static auto* instance = new PerComm<IpcState>;
  return *instance;
}

runtime::ScratchSpace& space_of(IpcState& state, runtime::Communicator& comm) {
  if (!state.space) {
    runtime::ScratchGroup group{
        .rank = comm.rank(),
        .size = comm.size(),
        .all_gather = [&comm](const void* mine, void* all,
                              uint64_t bytes) { comm.all_gather(mine, all, bytes, DataType::kUint8); },
        .barrier = [&comm] { comm.barrier(); }};
    state.space = std::make_unique<runtime::ScratchSpace>(std::move(group), state.exporter, process_token());
  }
  return *state.space;
}

// Grows the scratch for `call`; false (on every rank) when the ranks cannot
// map each other's: the communicator stages from then on.
bool ensure_scratch(IpcState& state, runtime::Communicator& comm, const ScratchCall& call) {
  runtime::ScratchSpace& space = space_of(state, comm);
  const uint64_t before = space.mapped().half_bytes;
  if (!space.ensure(runtime::scratch_half_bytes_wanted(call, comm.size(), kHalfCap))) {
    log(LogLevel::kWarn,
        "rank {}: CUDA IPC is not usable on this communicator (a rank could not allocate, export or map device "
        "scratch); device buffers are staged through host memory instead",
        comm.rank());
    return false;
  }
  if (space.mapped().half_bytes != before) {
    log(LogLevel::kInfo, "rank {}: CUDA IPC scratch mapped: {} ranks, halves of {} bytes", comm.rank(),
        comm.size(), space.mapped().half_bytes);
  }
  return true;
}

#endif  // STRATA_NCCL_CUDA_IPC_BUILT

}  // namespace

bool run_on_device_ipc(const CommRef& ref, const ScratchCall& call, cudaStream_t stream) {
#if STRATA_NCCL_CUDA_IPC_BUILT
  if (!qualifies(ref, call) || !driver().complete()) return false;  // staging reports a missing driver
  std::shared_ptr<IpcState> state = registry().of(ref.comm);
  if (state->space && state->space->refused()) return false;
  settle_queued_staging(ref.comm.get());  // device-buffer calls still queued on the proxy go first
  const CuContext context = context_of(used_buffers(call, ref.rank).send ? call.send : call.recv);
  const ContextScope scope(context);
  check_not_capturing(stream, ref.context);
  if (!state->space) state->context = context;
  if (!ensure_scratch(*state, *ref.comm, call)) return false;
  cuda_ipc::StreamMemory memory(stream, runtime::config().timeout_s);
  runtime::run_scratch_collective(state->space->mapped(), memory, call);
  return true;
#else
  (void)ref, (void)call, (void)stream, (void)qualifies;
  return false;
#endif
}

void release_device_ipc(const runtime::Communicator* comm) {
#if STRATA_NCCL_CUDA_IPC_BUILT
  if (std::shared_ptr<IpcState> state = registry().find(comm)) registry().forget(comm, state);
#else
  (void)comm;
#endif
}

}  // namespace strata::nccl
