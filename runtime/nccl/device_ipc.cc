#include "runtime/nccl/device_ipc.h"

#include <random>

#include "common/log.h"
#include "runtime/config/config.h"
#include "runtime/nccl/cuda_driver.h"
#include "runtime/nccl/device_memory.h"
#include "runtime/nccl/device_staging.h"
#include "runtime/nccl/per_comm.h"

#if STRATA_NCCL_CUDA_IPC_BUILT
#include "runtime/cuda/ipc_scratch.h"
#endif

namespace strata::nccl {
namespace {

using runtime::ScratchCall;
using runtime::ScratchCollective;

// Largest scratch half: calls larger than this go through in pieces.
constexpr uint64_t kHalfCap = uint64_t{64} << 20;
constexpr uint64_t kHalfMin = uint64_t{1} << 20;

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
  if (!runtime::config().nccl_cuda_ipc || runtime::group_depth() > 0 || ref.size < 2) return false;
  if (ref.comm->topology().node_count != 1) return false;
  const UsedBuffers used = used_buffers(call, ref.rank);
  return (!used.send || is_device_memory(call.send)) && (!used.recv || is_device_memory(call.recv));
}

#if STRATA_NCCL_CUDA_IPC_BUILT

// What each rank tells the others about its scratch.
struct ScratchRecord {
  uint64_t ok = 0;         // 0: this rank could not allocate or export
  uint64_t process = 0;    // random per process: peers in the same process use `address`
  uint64_t address = 0;
  cuda_ipc::IpcHandle handle{};
};

uint64_t process_token() {
  static const uint64_t token = [] {
    std::random_device random;
    return (uint64_t{random()} << 32) | random() | 1;
  }();
  return token;
}

// A communicator's scratch and its peers', as mapped here.
struct IpcState {
  bool refused = false;  // the ranks could not map each other's scratch: stage from now on
  CuContext context = nullptr;
  std::unique_ptr<cuda_ipc::DeviceScratch> mine;
  std::vector<std::unique_ptr<cuda_ipc::PeerScratch>> peers;
  runtime::MappedScratch mapped;

  ~IpcState() {
    const ContextScope scope(context);
    peers.clear();
    mine.reset();
  }
};

PerComm<IpcState>& registry() {
  static auto* instance = new PerComm<IpcState>;
  return *instance;
}

// Every rank's record; all ranks call it together.
std::vector<ScratchRecord> exchange(runtime::Communicator& comm, const ScratchRecord& mine) {
  std::vector<ScratchRecord> all(comm.size());
  comm.all_gather(&mine, all.data(), sizeof mine, DataType::kUint8);
  return all;
}

bool all_agree(runtime::Communicator& comm, bool mine) {
  std::vector<uint8_t> all(comm.size());
  const uint8_t flag = mine ? 1 : 0;
  comm.all_gather(&flag, all.data(), 1, DataType::kUint8);
  for (uint8_t f : all) {
    if (f == 0) return false;
  }
  return true;
}

// Grows every rank's scratch to halves of at least `wanted` bytes; all ranks
// call it with the same `wanted`. False (for every rank) when a rank could
// not allocate, export or map: the communicator stages from then on.
bool ensure_scratch(IpcState& state, runtime::Communicator& comm, uint64_t wanted) {
  if (state.mine && state.mapped.half_bytes >= wanted) return true;
  uint64_t half = kHalfMin;
  while (half < wanted) half *= 2;
  ScratchRecord record;
  std::unique_ptr<cuda_ipc::DeviceScratch> grown;
  try {
    grown = std::make_unique<cuda_ipc::DeviceScratch>(2 * half);
    record = {1, process_token(), reinterpret_cast<uint64_t>(grown->data()), grown->handle()};
  } catch (const Error&) {
    record.ok = 0;  // the others learn it below
  }
  const std::vector<ScratchRecord> records = exchange(comm, record);
  bool ok = true;
  for (const ScratchRecord& r : records) ok = ok && r.ok != 0;
  std::vector<std::unique_ptr<cuda_ipc::PeerScratch>> peers(comm.size());
  std::vector<std::byte*> base(comm.size());
  for (int peer = 0; ok && peer < comm.size(); ++peer) {
    if (peer == comm.rank()) {
      base[peer] = grown->data();
    } else if (records[peer].process == process_token()) {
      base[peer] = reinterpret_cast<std::byte*>(records[peer].address);  // same address space
    } else {
      try {
        peers[peer] = std::make_unique<cuda_ipc::PeerScratch>(records[peer].handle);
        base[peer] = peers[peer]->data();
      } catch (const Error&) {
        ok = false;
      }
    }
  }
  // Unmap the old scratch of the peers before agreeing, so that after it
  // nobody maps the old scratch this rank frees below.
  state.peers.clear();
  if (!all_agree(comm, ok)) {
    state.refused = true;
    state.mine.reset();
    log(LogLevel::kWarn,
        "rank {}: CUDA IPC is not usable on this communicator (a rank could not allocate, export or map device "
        "scratch); device buffers are staged through host memory instead",
        comm.rank());
    return false;
  }
  state.mine = std::move(grown);
  state.peers = std::move(peers);
  state.mapped.rank = comm.rank();
  state.mapped.size = comm.size();
  state.mapped.half_bytes = half;
  state.mapped.base = std::move(base);
  state.mapped.barrier = [&comm] { comm.barrier(); };
  log(LogLevel::kInfo, "rank {}: CUDA IPC scratch mapped: {} ranks, halves of {} bytes", comm.rank(), comm.size(),
      half);
  return true;
}

#endif  // STRATA_NCCL_CUDA_IPC_BUILT

}  // namespace

bool run_on_device_ipc(const CommRef& ref, const ScratchCall& call, cudaStream_t stream) {
#if STRATA_NCCL_CUDA_IPC_BUILT
  if (!qualifies(ref, call) || !driver().complete()) return false;  // staging reports a missing driver
  std::shared_ptr<IpcState> state = registry().of(ref.comm);
  if (state->refused) return false;
  settle_queued_staging(ref.comm.get());  // device-buffer calls still queued on the proxy go first
  const CuContext context = context_of(used_buffers(call, ref.rank).send ? call.send : call.recv);
  const ContextScope scope(context);
  check_not_capturing(stream, ref.context);
  if (!state->mine) state->context = context;
  const uint64_t wanted = runtime::scratch_half_bytes_wanted(call, ref.size, kHalfCap);
  if (!ensure_scratch(*state, *ref.comm, wanted)) return false;
  cuda_ipc::StreamMemory memory(stream);
  runtime::run_scratch_collective(state->mapped, memory, call);
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
