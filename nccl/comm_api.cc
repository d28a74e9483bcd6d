// Communicator lifetime: unique ids, init, split, finalize, destroy, abort.
#include <cstring>
#include <vector>

#include "runtime/bootstrap/tcp_bootstrap.h"
#include "runtime/communicator/communicator.h"
#include "runtime/config/config.h"
#include "nccl/api_guard.h"
#include "nccl/argument_check.h"
#include "nccl/comm_config.h"
#include "nccl/device_memory.h"
#include "nccl/device_ipc.h"
#include "nccl/device_staging.h"
#include "nccl/group.h"
#include "nccl/profiling_alias.h"

using namespace strata;
using namespace strata::nccl;

namespace {

void check_rank_and_size(int rank, int nranks, const ErrorContext& context) {
  if (nranks < 1) fail(ErrorCode::kInvalidArgument, context, "nranks {} must be at least 1", nranks);
  if (rank < 0 || rank >= nranks) {
    fail(ErrorCode::kInvalidArgument, context, "rank {} is not in 0..nranks-1 (nranks {})", rank, nranks);
  }
}

// Joins the ranks that share `id` over the TCP rendezvous, then builds the
// communicator over it (at once, or at the group's end).
void init_rank(ncclComm_t* out, int nranks, const ncclUniqueId& id, int rank, const ncclConfig_t* config,
               const char* function) {
  const ErrorContext context{rank, -1, function};
  check_out_pointer(out, "comm", context);
  *out = nullptr;  // a failed init leaves NULL, never a stale handle
  check_rank_and_size(rank, nranks, context);
  const CommSettings settings = read_config(config, context);
  runtime::UniqueId unique;
  static_assert(sizeof(unique.bytes) == sizeof(id.internal));
  std::memcpy(unique.bytes.data(), id.internal, sizeof(id.internal));
  const std::string name = settings.name.empty() ? std::string("nccl") : settings.name;  // for logs
  CreateWork work = [unique, rank, nranks, name] {
    CommParts parts;
    parts.bootstrap = runtime::connect_tcp_bootstrap(unique, rank, nranks, runtime::config().timeout_s, runtime::join_policy());
    parts.comm = runtime::Communicator::create(*parts.bootstrap, runtime::CommOptions{name});
    return parts;
  };
  *out = create_comm(std::move(work), true, rank, nranks, current_cuda_device());
}

}  // namespace

ncclResult_t ncclGetUniqueId(ncclUniqueId* uniqueId) {
  return guard("ncclGetUniqueId", [&] {
    check_out_pointer(uniqueId, "uniqueId", {-1, -1, "ncclGetUniqueId"});
    const runtime::Config& config = runtime::config();
    const runtime::UniqueId id = runtime::create_unique_id(config.socket_ifname, config.timeout_s, runtime::join_policy());
    static_assert(sizeof(id.bytes) == sizeof(uniqueId->internal));
    std::memcpy(uniqueId->internal, id.bytes.data(), sizeof(uniqueId->internal));
  });
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank) {
  return guard("ncclCommInitRank", [&] { init_rank(comm, nranks, commId, rank, nullptr, "ncclCommInitRank"); });
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank,
                                    ncclConfig_t* config) {
  return guard("ncclCommInitRankConfig",
               [&] { init_rank(comm, nranks, commId, rank, config, "ncclCommInitRankConfig"); });
}

// NCCL spreads its rendezvous over several ids for speed at scale; one
// suffices here, so every rank uses the first.
ncclResult_t ncclCommInitRankScalable(ncclComm_t* newcomm, int nranks, int myrank, int nId,
                                      ncclUniqueId* commIds, ncclConfig_t* config) {
  static constexpr const char* kName = "ncclCommInitRankScalable";
  return guard(kName, [&] {
    const ErrorContext context{myrank, -1, kName};
    if (nId < 1) fail(ErrorCode::kInvalidArgument, context, "nId {} must be at least 1", nId);
    check_out_pointer(commIds, "commIds", context);
    init_rank(newcomm, nranks, commIds[0], myrank, config, kName);
  });
}

// All ranks in this process over the in-process transport. Without CUDA,
// devlist only sets what ncclCommCuDevice reports for each rank.
ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  static constexpr const char* kName = "ncclCommInitAll";
  return guard(kName, [&] {
    const ErrorContext context{-1, -1, kName};
    check_out_pointer(comms, "comm", context);
    if (ndev < 1) fail(ErrorCode::kInvalidArgument, context, "ndev {} must be at least 1", ndev);
    for (int rank = 0; devlist != nullptr && rank < ndev; ++rank) {
      if (devlist[rank] < 0) {
        fail(ErrorCode::kInvalidArgument, context, "devlist[{}] is {}, not a device number", rank, devlist[rank]);
      }
    }
    auto created = runtime::Communicator::create_local(ndev, runtime::CommOptions{"nccl-local"});
    for (int rank = 0; rank < ndev; ++rank) {
      CommParts parts;
      parts.comm = std::move(created[rank]);
      comms[rank] = register_comm(std::move(parts), rank, ndev, devlist != nullptr ? devlist[rank] : rank);
    }
  });
}

ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t* config) {
  static constexpr const char* kName = "ncclCommSplit";
  return guard(kName, [&] {
    const CommRef ref = usable_comm(comm, kName);
    check_out_pointer(newcomm, "newcomm", ref.context);
    drain_staging(ref.comm.get());  // device-buffer calls still queued on the proxy go first
    *newcomm = nullptr;
    if (color < 0 && color != NCCL_SPLIT_NOCOLOR) {
      fail(ErrorCode::kInvalidArgument, ref.context, "color {} is negative but not NCCL_SPLIT_NOCOLOR", color);
    }
    // A NULL config inherits the parent's settings, of which only the name
    // matters here. An empty name makes the runtime reuse the parent's.
    const CommSettings settings = read_config(config, ref.context);
    const std::string name = settings.name;
    CreateWork work = [parent = ref.comm, color, key, name] {
      CommParts parts;
      parts.comm = parent->split(color, key, runtime::CommOptions{name});
      return parts;
    };
    *newcomm = create_comm(std::move(work), color != NCCL_SPLIT_NOCOLOR, -1, 0, ref.cuda_device);
  });
}

ncclResult_t strataNcclCommSplitCompressed(ncclComm_t comm, const char* format, ncclComm_t* newcomm) {
  static constexpr const char* kName = "strataNcclCommSplitCompressed";
  return guard(kName, [&] {
    const CommRef ref = usable_comm(comm, kName);
    check_out_pointer(newcomm, "newcomm", ref.context);
    *newcomm = nullptr;
    if (format == nullptr) fail(ErrorCode::kInvalidArgument, ref.context, "format is NULL");
    drain_staging(ref.comm.get());
    CreateWork work = [parent = ref.comm, wire = std::string(format)] {
      CommParts parts;
      parts.comm = parent->split(0, parent->rank(), runtime::CommOptions{.compression = wire});
      return parts;
    };
    *newcomm = create_comm(std::move(work), true, -1, 0, ref.cuda_device);
  });
}

// The survivors' communicator. NCCL_SHRINK_ABORT first revokes the parent,
// so that calls still pending on it (a peer died) return at once; the
// runtime's shrink talks only to the survivors either way.
ncclResult_t ncclCommShrink(ncclComm_t comm, int* excludeRanksList, int excludeRanksCount, ncclComm_t* newcomm,
                            ncclConfig_t* config, int shrinkFlags) {
  static constexpr const char* kName = "ncclCommShrink";
  return guard(kName, [&] {
    if (newcomm != nullptr) *newcomm = nullptr;
    const CommRef ref = usable_comm(comm, kName);
    check_out_pointer(newcomm, "newcomm", ref.context);
    if (shrinkFlags != NCCL_SHRINK_DEFAULT && shrinkFlags != NCCL_SHRINK_ABORT)
      fail(ErrorCode::kInvalidArgument, ref.context,
           "shrinkFlags {} is neither NCCL_SHRINK_DEFAULT nor NCCL_SHRINK_ABORT", shrinkFlags);
    if (excludeRanksCount < 0 || excludeRanksCount >= ref.size)
      fail(ErrorCode::kInvalidArgument, ref.context, "excludeRanksCount {} is not in 0..{}", excludeRanksCount,
           ref.size - 1);
    if (excludeRanksCount > 0 && excludeRanksList == nullptr)
      fail(ErrorCode::kInvalidArgument, ref.context, "excludeRanksList is NULL with excludeRanksCount {}",
           excludeRanksCount);
    if (shrinkFlags == NCCL_SHRINK_ABORT) ref.comm->revoke();
    drain_staging(ref.comm.get());  // queued device-buffer calls finish (or fail fast when revoked)
    const std::string name = read_config(config, ref.context).name;
    std::vector<int> excluded(excludeRanksList, excludeRanksList + excludeRanksCount);
    CreateWork work = [parent = ref.comm, excluded = std::move(excluded), name] {
      CommParts parts;
      parts.comm = parent->shrink(excluded, runtime::CommOptions{name});
      return parts;
    };
    *newcomm = create_comm(std::move(work), true, -1, 0, ref.cuda_device);
  });
}

// Revokes: pending calls on other threads return, later ones fail with
// ncclInvalidUsage; the handle stays for ncclCommShrink and destroy.
ncclResult_t ncclCommRevoke(ncclComm_t comm, int revokeFlags) {
  static constexpr const char* kName = "ncclCommRevoke";
  return guard(kName, [&] {
    const CommRef ref = usable_comm(comm, kName);
    if (revokeFlags != NCCL_REVOKE_DEFAULT)
      fail(ErrorCode::kInvalidArgument, ref.context, "revokeFlags {} is not NCCL_REVOKE_DEFAULT", revokeFlags);
    ref.comm->revoke();
    drain_staging(ref.comm.get());  // queued device-buffer calls fail fast now
  });
}

// Device-buffer calls may still be queued on the communicator's proxy
// (device_staging.h): finalizing waits for them, then forbids further operations.
ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  return guard("ncclCommFinalize", [&] {
    const CommRef ref = queryable_comm(comm, "ncclCommFinalize");
    drain_staging(ref.comm.get());  // device-buffer calls still queued on the proxy complete first
    finalize_comm(ref.handle);
  });
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  return guard("ncclCommDestroy", [&] {
    const CommRef ref = lookup_comm(comm, "ncclCommDestroy");
    if (ref.comm) drain_staging(ref.comm.get(), /*stop=*/true);  // queued device-buffer calls first
    if (ref.comm) release_device_ipc(ref.comm.get());
    // Torn down outside the registry lock, once no other call holds it.
    release_when_idle(retire_comm(ref.handle, CommState::kDestroyed));
  });
}

ncclResult_t ncclCommAbort(ncclComm_t comm) {
  return guard("ncclCommAbort", [&] {
    const CommRef ref = lookup_comm(comm, "ncclCommAbort");
    // Wakes calls still waiting on other threads; they return ncclInvalidUsage.
    if (ref.comm) ref.comm->abort();
    if (ref.comm) drain_staging(ref.comm.get(), /*stop=*/true);  // queued calls fail fast now
    if (ref.comm) release_device_ipc(ref.comm.get());
    release_when_idle(retire_comm(ref.handle, CommState::kAborted));
  });
}

STRATA_NCCL_PROFILING_ALIAS(ncclGetUniqueId)
STRATA_NCCL_PROFILING_ALIAS(ncclCommInitRank)
STRATA_NCCL_PROFILING_ALIAS(ncclCommInitRankConfig)
STRATA_NCCL_PROFILING_ALIAS(ncclCommInitRankScalable)
STRATA_NCCL_PROFILING_ALIAS(ncclCommInitAll)
STRATA_NCCL_PROFILING_ALIAS(ncclCommSplit)
STRATA_NCCL_PROFILING_ALIAS(ncclCommShrink)
STRATA_NCCL_PROFILING_ALIAS(ncclCommRevoke)
STRATA_NCCL_PROFILING_ALIAS(ncclCommFinalize)
STRATA_NCCL_PROFILING_ALIAS(ncclCommDestroy)
STRATA_NCCL_PROFILING_ALIAS(ncclCommAbort)
