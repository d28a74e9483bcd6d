// The collective and point-to-point entry points. Each checks its arguments
// in NCCL's terms, then hands the call to the communicator, which runs it to
// completion (or queues it until ncclGroupEnd). With host buffers `stream`
// is not used: there is nothing to order on a CUDA stream, and the call has
// completed by the time it returns. CUDA device buffers are staged through
// pinned host memory on `stream` (device_staging.h); outside a group the
// collective then runs later on the communicator's proxy thread, so the
// lambdas below own (copy) everything they use.
#include "runtime/communicator/communicator.h"
#include "nccl/api_guard.h"
#include "nccl/argument_check.h"
#include "nccl/comm_handle.h"
#include "nccl/device_ipc.h"
#include "nccl/device_staging.h"
#include "nccl/profiling_alias.h"
#include "nccl/redop.h"

using namespace strata;
using namespace strata::nccl;

namespace {

struct Call {
  CommRef ref;
  DataType type;

  const ErrorContext& context() const { return ref.context; }
  runtime::Communicator& comm() const { return *ref.comm; }
  bool is_rank(int rank) const { return ref.rank == rank; }
  uint64_t bytes(size_t count, uint64_t blocks = 1) const { return check_count(count, type, blocks, context()); }
  Reduction reduction(const ncclRedOp_t& op) const {
    return resolve_reduction(op, type, ref.size, redops_of(ref.handle), context());
  }
  void check_root(int root) const { check_rank_argument(root, "root", ref.size, context()); }
};

// Runs the call through CUDA IPC when it applies (device_ipc.h); false: stage it.
bool via_device_ipc(const Call& call, runtime::ScratchCollective collective, const void* send, void* recv,
                    uint64_t count, const Reduction* reduction, int root, cudaStream_t stream) {
  runtime::ScratchCall scratch{.collective = collective, .send = send, .recv = recv, .count = count,
                               .type = call.type, .root = root};
  if (reduction != nullptr) {
    scratch.op = reduction->op;
    scratch.finish = reduction->finish;
  }
  return run_on_device_ipc(call.ref, scratch, stream);
}

// Enum arguments by reference: see raw_enum (argument_check.h).
Call begin(ncclComm_t comm, const ncclDataType_t& datatype, const char* function) {
  CommRef ref = usable_comm(comm, function);
  const DataType type = check_datatype(datatype, ref.context);
  return Call{std::move(ref), type};
}

// sendbuff is read on the root only.
ncclResult_t broadcast(const char* function, const void* sendbuff, void* recvbuff, size_t count,
                       const ncclDataType_t& datatype, int root, ncclComm_t comm, cudaStream_t stream) {
  return guard(function, [&] {
    const Call call = begin(comm, datatype, function);
    call.check_root(root);
    const uint64_t bytes = call.bytes(count);
    const uint64_t send_bytes = call.is_rank(root) ? bytes : 0;
    check_buffer(sendbuff, "sendbuff", send_bytes, call.context());
    check_buffer(recvbuff, "recvbuff", bytes, call.context());
    if (via_device_ipc(call, runtime::ScratchCollective::kBroadcast, sendbuff, recvbuff, count, nullptr, root,
                       stream)) {
      return;
    }
    StagedCall staged(call.ref, sendbuff, send_bytes, recvbuff, bytes, stream);
    staged.run([comm = call.ref.comm, count, type = call.type, root](const void* send, void* recv) {
      comm->broadcast(send, recv, count, type, root);
    });
  });
}

}  // namespace

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  return guard("ncclAllReduce", [&] {
    const Call call = begin(comm, datatype, "ncclAllReduce");
    const Reduction reduction = call.reduction(op);
    const uint64_t bytes = call.bytes(count);
    check_buffer(sendbuff, "sendbuff", bytes, call.context());
    check_buffer(recvbuff, "recvbuff", bytes, call.context());
    if (via_device_ipc(call, runtime::ScratchCollective::kAllReduce, sendbuff, recvbuff, count, &reduction, 0,
                       stream)) {
      return;
    }
    StagedCall staged(call.ref, sendbuff, bytes, recvbuff, bytes, stream);
    staged.run([comm = call.ref.comm, count, type = call.type, reduction](const void* send, void* recv) {
      comm->all_reduce(send, recv, count, type, reduction.op, reduction.finish);
    });
  });
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                           ncclComm_t comm, cudaStream_t stream) {
  return broadcast("ncclBroadcast", sendbuff, recvbuff, count, datatype, root, comm, stream);
}

ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                       cudaStream_t stream) {
  return broadcast("ncclBcast", buff, buff, count, datatype, root, comm, stream);
}

// recvbuff is written on the root only.
ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                        ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
  return guard("ncclReduce", [&] {
    const Call call = begin(comm, datatype, "ncclReduce");
    call.check_root(root);
    const Reduction reduction = call.reduction(op);
    const uint64_t bytes = call.bytes(count);
    check_buffer(sendbuff, "sendbuff", bytes, call.context());
    const uint64_t recv_bytes = call.is_rank(root) ? bytes : 0;
    check_buffer(recvbuff, "recvbuff", recv_bytes, call.context());
    if (via_device_ipc(call, runtime::ScratchCollective::kReduce, sendbuff, recvbuff, count, &reduction, root,
                       stream)) {
      return;
    }
    StagedCall staged(call.ref, sendbuff, bytes, recvbuff, recv_bytes, stream);
    staged.run([comm = call.ref.comm, count, type = call.type, reduction, root](const void* send, void* recv) {
      comm->reduce(send, recv, count, type, reduction.op, root, reduction.finish);
    });
  });
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype,
                           ncclComm_t comm, cudaStream_t stream) {
  return guard("ncclAllGather", [&] {
    const Call call = begin(comm, datatype, "ncclAllGather");
    const uint64_t send_bytes = call.bytes(sendcount);
    const uint64_t recv_bytes = call.bytes(sendcount, call.ref.size);
    check_buffer(sendbuff, "sendbuff", send_bytes, call.context());
    check_buffer(recvbuff, "recvbuff", recv_bytes, call.context());
    if (via_device_ipc(call, runtime::ScratchCollective::kAllGather, sendbuff, recvbuff, sendcount, nullptr, 0,
                       stream)) {
      return;
    }
    StagedCall staged(call.ref, sendbuff, send_bytes, recvbuff, recv_bytes, stream);
    staged.run([comm = call.ref.comm, sendcount, type = call.type](const void* send, void* recv) {
      comm->all_gather(send, recv, sendcount, type);
    });
  });
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount, ncclDataType_t datatype,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  return guard("ncclReduceScatter", [&] {
    const Call call = begin(comm, datatype, "ncclReduceScatter");
    const Reduction reduction = call.reduction(op);
    const uint64_t send_bytes = call.bytes(recvcount, call.ref.size);
    const uint64_t recv_bytes = call.bytes(recvcount);
    check_buffer(sendbuff, "sendbuff", send_bytes, call.context());
    check_buffer(recvbuff, "recvbuff", recv_bytes, call.context());
    if (via_device_ipc(call, runtime::ScratchCollective::kReduceScatter, sendbuff, recvbuff, recvcount, &reduction,
                       0, stream)) {
      return;
    }
    StagedCall staged(call.ref, sendbuff, send_bytes, recvbuff, recv_bytes, stream);
    staged.run([comm = call.ref.comm, recvcount, type = call.type, reduction](const void* send, void* recv) {
      comm->reduce_scatter(send, recv, recvcount, type, reduction.op, reduction.finish);
    });
  });
}

ncclResult_t ncclAlltoAll(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                          ncclComm_t comm, cudaStream_t stream) {
  return guard("ncclAlltoAll", [&] {
    const Call call = begin(comm, datatype, "ncclAlltoAll");
    const uint64_t bytes = call.bytes(count, call.ref.size);
    check_buffer(sendbuff, "sendbuff", bytes, call.context());
    check_buffer(recvbuff, "recvbuff", bytes, call.context());
    StagedCall staged(call.ref, sendbuff, bytes, recvbuff, bytes, stream);
    staged.run([comm = call.ref.comm, count, type = call.type](const void* send, void* recv) {
      comm->all_to_all(send, recv, count, type);
    });
  });
}

// recvbuff (nranks blocks) is written on the root only.
ncclResult_t ncclGather(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                        ncclComm_t comm, cudaStream_t stream) {
  return guard("ncclGather", [&] {
    const Call call = begin(comm, datatype, "ncclGather");
    call.check_root(root);
    const uint64_t send_bytes = call.bytes(count);
    check_buffer(sendbuff, "sendbuff", send_bytes, call.context());
    const uint64_t gathered = call.bytes(count, call.ref.size);
    const uint64_t recv_bytes = call.is_rank(root) ? gathered : 0;
    check_buffer(recvbuff, "recvbuff", recv_bytes, call.context());
    StagedCall staged(call.ref, sendbuff, send_bytes, recvbuff, recv_bytes, stream);
    staged.run([comm = call.ref.comm, count, type = call.type, root](const void* send, void* recv) {
      comm->gather(send, recv, count, type, root);
    });
  });
}

// sendbuff (nranks blocks) is read on the root only.
ncclResult_t ncclScatter(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                         ncclComm_t comm, cudaStream_t stream) {
  return guard("ncclScatter", [&] {
    const Call call = begin(comm, datatype, "ncclScatter");
    call.check_root(root);
    const uint64_t scattered = call.bytes(count, call.ref.size);
    const uint64_t send_bytes = call.is_rank(root) ? scattered : 0;
    const uint64_t recv_bytes = call.bytes(count);
    check_buffer(sendbuff, "sendbuff", send_bytes, call.context());
    check_buffer(recvbuff, "recvbuff", recv_bytes, call.context());
    StagedCall staged(call.ref, sendbuff, send_bytes, recvbuff, recv_bytes, stream);
    staged.run([comm = call.ref.comm, count, type = call.type, root](const void* send, void* recv) {
      comm->scatter(send, recv, count, type, root);
    });
  });
}

ncclResult_t ncclSend(const void* sendbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
  return guard("ncclSend", [&] {
    const Call call = begin(comm, datatype, "ncclSend");
    check_rank_argument(peer, "peer", call.ref.size, call.context());
    const uint64_t bytes = call.bytes(count);
    check_buffer(sendbuff, "sendbuff", bytes, call.context());
    StagedCall staged(call.ref, sendbuff, bytes, nullptr, 0, stream);
    staged.run([comm = call.ref.comm, count, type = call.type, peer](const void* send, void*) {
      comm->send(send, count, type, peer);
    });
  });
}

ncclResult_t ncclRecv(void* recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                      cudaStream_t stream) {
  return guard("ncclRecv", [&] {
    const Call call = begin(comm, datatype, "ncclRecv");
    check_rank_argument(peer, "peer", call.ref.size, call.context());
    const uint64_t bytes = call.bytes(count);
    check_buffer(recvbuff, "recvbuff", bytes, call.context());
    StagedCall staged(call.ref, nullptr, 0, recvbuff, bytes, stream);
    staged.run([comm = call.ref.comm, count, type = call.type, peer](const void*, void* recv) {
      comm->recv(recv, count, type, peer);
    });
  });
}

STRATA_NCCL_PROFILING_ALIAS(ncclAllReduce)
STRATA_NCCL_PROFILING_ALIAS(ncclBroadcast)
STRATA_NCCL_PROFILING_ALIAS(ncclBcast)
STRATA_NCCL_PROFILING_ALIAS(ncclReduce)
STRATA_NCCL_PROFILING_ALIAS(ncclAllGather)
STRATA_NCCL_PROFILING_ALIAS(ncclReduceScatter)
STRATA_NCCL_PROFILING_ALIAS(ncclAlltoAll)
STRATA_NCCL_PROFILING_ALIAS(ncclGather)
STRATA_NCCL_PROFILING_ALIAS(ncclScatter)
STRATA_NCCL_PROFILING_ALIAS(ncclSend)
STRATA_NCCL_PROFILING_ALIAS(ncclRecv)
