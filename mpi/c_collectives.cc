// The C bindings libstrata-mpi.so takes over. Each decides Strata or PMPI
// from arguments MPI requires to agree on every rank (datatype and op of a
// reduction, byte counts, the communicator), runs the collective on the
// communicator's Strata twin, and turns a Strata error into an MPI error
// raised through the communicator's error handler.
#include <mpi.h>

#include <cstring>
#include <vector>

#include "common/log.h"
#include "shim_state.h"
#include "type_map.h"

namespace strata::mpi {
namespace {

struct Reduction {
  std::shared_ptr<runtime::Communicator> comm;
  DataType type{};
  ReduceOp op{};
};

bool taken(Call call) { return settings().enabled && settings().takes[static_cast<int>(call)]; }

// nullptr comm: forward to PMPI (counted with its reason).
Reduction decide_reduction(Call call, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm) {
  Reduction out;
  Fallback reason = Fallback::kNone;
  auto type = reduction_type(datatype);
  auto reduce = reduction_op(op);
  if (!taken(call)) {
    reason = Fallback::kDisabled;
  } else if (count == 0) {
    reason = Fallback::kZeroCount;
  } else if (!type) {
    reason = Fallback::kDatatype;
  } else if (!reduce) {
    reason = Fallback::kOp;
  } else {
    out.comm = communicator_for(comm, static_cast<uint64_t>(count) * datatype_size(*type), &reason);
    out.type = *type;
    out.op = *reduce;
  }
  count_call(call, reason);
  return out;
}

std::shared_ptr<runtime::Communicator> decide_move(Call call, uint64_t bytes, MPI_Comm comm) {
  Fallback reason = Fallback::kNone;
  std::shared_ptr<runtime::Communicator> out;
  if (!taken(call)) {
    reason = Fallback::kDisabled;
  } else if (bytes == 0) {
    reason = Fallback::kZeroCount;
  } else {
    out = communicator_for(comm, bytes, &reason);
  }
  count_call(call, reason);
  return out;
}

template <typename Body>
int guarded(Call call, MPI_Comm comm, Body&& body) {
  try {
    body();
    return MPI_SUCCESS;
  } catch (const Error& error) {
    log(LogLevel::kWarn, "strata-mpi: MPI_{}: {}", call_name(call), error.what());
  } catch (const std::exception& error) {
    log(LogLevel::kWarn, "strata-mpi: MPI_{}: {}", call_name(call), error.what());
  }
  PMPI_Comm_call_errhandler(comm, MPI_ERR_OTHER);  // MPI_ERRORS_ARE_FATAL aborts here
  return MPI_ERR_OTHER;
}

template <typename Decide>
auto decide_or_error(Call call, MPI_Comm comm, int* status, Decide&& decide) -> decltype(decide()) {
  decltype(decide()) out{};
  *status = guarded(call, comm, [&] { out = decide(); });  // creating the Strata side may fail
  return out;
}

int rank_of(MPI_Comm comm) {
  int rank = 0;
  PMPI_Comm_rank(comm, &rank);
  return rank;
}

int size_of(MPI_Comm comm) {
  int size = 0;
  PMPI_Comm_size(comm, &size);
  return size;
}

// MPI's in-place Reduce_scatter: the input is all of recvbuf, the result its
// first block (not NCCL's layout), so the input goes through a copy.
int reduce_scatter_equal(Call call, const void* sendbuf, void* recvbuf, int recvcount, MPI_Datatype datatype,
                         const Reduction& how, MPI_Comm comm) {
  return guarded(call, comm, [&] {
    const uint64_t block = type_bytes(recvcount, datatype);
    std::vector<std::byte> input;
    const void* send = sendbuf;
    if (sendbuf == MPI_IN_PLACE) {
      input.assign(static_cast<std::byte*>(recvbuf), static_cast<std::byte*>(recvbuf) + block * how.comm->size());
      send = input.data();
    }
    how.comm->reduce_scatter(send, recvbuf, recvcount, how.type, how.op);
  });
}

}  // namespace
}  // namespace strata::mpi

using namespace strata::mpi;  // NOLINT: the C entry points below
using strata::DataType;

extern "C" {

int MPI_Allreduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm) {
  int status = MPI_SUCCESS;
  auto how = decide_or_error(Call::kAllreduce, comm, &status,
                             [&] { return decide_reduction(Call::kAllreduce, count, datatype, op, comm); });
  if (status != MPI_SUCCESS) return status;
  if (!how.comm) return PMPI_Allreduce(sendbuf, recvbuf, count, datatype, op, comm);
  const void* send = sendbuf == MPI_IN_PLACE ? recvbuf : sendbuf;
  return guarded(Call::kAllreduce, comm, [&] { how.comm->all_reduce(send, recvbuf, count, how.type, how.op); });
}

int MPI_Reduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype datatype, MPI_Op op, int root,
               MPI_Comm comm) {
  int status = MPI_SUCCESS;
  auto how = decide_or_error(Call::kReduce, comm, &status,
                             [&] { return decide_reduction(Call::kReduce, count, datatype, op, comm); });
  if (status != MPI_SUCCESS) return status;
  if (!how.comm || root < 0 || root >= how.comm->size())
    return PMPI_Reduce(sendbuf, recvbuf, count, datatype, op, root, comm);
  const bool is_root = how.comm->rank() == root;
  const void* send = sendbuf == MPI_IN_PLACE && is_root ? recvbuf : sendbuf;
  void* recv = is_root ? recvbuf : nullptr;  // non-root recvbuf may be anything, even NULL
  return guarded(Call::kReduce, comm, [&] { how.comm->reduce(send, recv, count, how.type, how.op, root); });
}

int MPI_Reduce_scatter_block(const void* sendbuf, void* recvbuf, int recvcount, MPI_Datatype datatype, MPI_Op op,
                             MPI_Comm comm) {
  int status = MPI_SUCCESS;
  auto how = decide_or_error(Call::kReduceScatterBlock, comm, &status, [&] {
    return decide_reduction(Call::kReduceScatterBlock, recvcount, datatype, op, comm);
  });
  if (status != MPI_SUCCESS) return status;
  if (!how.comm) return PMPI_Reduce_scatter_block(sendbuf, recvbuf, recvcount, datatype, op, comm);
  return reduce_scatter_equal(Call::kReduceScatterBlock, sendbuf, recvbuf, recvcount, datatype, how, comm);
}

int MPI_Reduce_scatter(const void* sendbuf, void* recvbuf, const int recvcounts[], MPI_Datatype datatype,
                       MPI_Op op, MPI_Comm comm) {
  // recvcounts is the same array on every rank, so this test agrees everywhere.
  const int size = size_of(comm);
  bool equal = size > 0;
  for (int i = 1; i < size && equal; ++i) equal = recvcounts[i] == recvcounts[0];
  if (!equal) {
    count_call(Call::kReduceScatter, Fallback::kUnequalCounts);
    return PMPI_Reduce_scatter(sendbuf, recvbuf, recvcounts, datatype, op, comm);
  }
  int status = MPI_SUCCESS;
  auto how = decide_or_error(Call::kReduceScatter, comm, &status, [&] {
    return decide_reduction(Call::kReduceScatter, recvcounts[0], datatype, op, comm);
  });
  if (status != MPI_SUCCESS) return status;
  if (!how.comm) return PMPI_Reduce_scatter(sendbuf, recvbuf, recvcounts, datatype, op, comm);
  return reduce_scatter_equal(Call::kReduceScatter, sendbuf, recvbuf, recvcounts[0], datatype, how, comm);
}

int MPI_Bcast(void* buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm) {
  int status = MPI_SUCCESS;
  auto strata = decide_or_error(Call::kBcast, comm, &status,
                                [&] { return decide_move(Call::kBcast, type_bytes(count, datatype), comm); });
  if (status != MPI_SUCCESS) return status;
  if (!strata || root < 0 || root >= strata->size()) return PMPI_Bcast(buffer, count, datatype, root, comm);
  return guarded(Call::kBcast, comm, [&] {
    ByteView bytes(buffer, count, datatype, strata->rank() == root);
    strata->broadcast(bytes.data(), bytes.data(), bytes.size(), DataType::kUint8, root);
    bytes.unpack();
  });
}

int MPI_Allgather(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf, int recvcount,
                  MPI_Datatype recvtype, MPI_Comm comm) {
  const uint64_t block = type_bytes(recvcount, recvtype);
  int status = MPI_SUCCESS;
  auto strata = decide_or_error(Call::kAllgather, comm, &status,
                                [&] { return decide_move(Call::kAllgather, block, comm); });
  if (status != MPI_SUCCESS) return status;
  if (!strata) return PMPI_Allgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
  return guarded(Call::kAllgather, comm, [&] {
    const int size = strata->size(), rank = strata->rank();
    ByteView recv(recvbuf, recvcount * size, recvtype, sendbuf == MPI_IN_PLACE);
    if (sendbuf == MPI_IN_PLACE) {
      strata->all_gather(recv.data() + rank * block, recv.data(), block, DataType::kUint8);
    } else {
      ByteView send(sendbuf, sendcount, sendtype, true);
      strata->all_gather(send.data(), recv.data(), block, DataType::kUint8);
    }
    recv.unpack();
  });
}

int MPI_Alltoall(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf, int recvcount,
                 MPI_Datatype recvtype, MPI_Comm comm) {
  const uint64_t block = type_bytes(recvcount, recvtype);
  int status = MPI_SUCCESS;
  auto strata = decide_or_error(Call::kAlltoall, comm, &status,
                                [&] { return decide_move(Call::kAlltoall, block, comm); });
  if (status != MPI_SUCCESS) return status;
  if (!strata) return PMPI_Alltoall(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm);
  return guarded(Call::kAlltoall, comm, [&] {
    const int size = strata->size();
    ByteView recv(recvbuf, recvcount * size, recvtype, sendbuf == MPI_IN_PLACE);
    std::vector<std::byte> input;
    if (sendbuf == MPI_IN_PLACE) {
      input.assign(recv.data(), recv.data() + block * size);  // in place needs a copy of the input
      strata->all_to_all(input.data(), recv.data(), block, DataType::kUint8);
    } else {
      ByteView send(sendbuf, sendcount * size, sendtype, true);
      strata->all_to_all(send.data(), recv.data(), block, DataType::kUint8);
    }
    recv.unpack();
  });
}

int MPI_Gather(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf, int recvcount,
               MPI_Datatype recvtype, int root, MPI_Comm comm) {
  // The block size from what this rank must pass: recv arguments count only at the root.
  const int rank = rank_of(comm);
  const bool root_in_place = rank == root && sendbuf == MPI_IN_PLACE;
  const uint64_t block = rank == root ? type_bytes(recvcount, recvtype) : type_bytes(sendcount, sendtype);
  int status = MPI_SUCCESS;
  auto strata = decide_or_error(Call::kGather, comm, &status, [&] { return decide_move(Call::kGather, block, comm); });
  if (status != MPI_SUCCESS) return status;
  if (!strata || root < 0 || root >= strata->size())
    return PMPI_Gather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm);
  return guarded(Call::kGather, comm, [&] {
    if (rank != root) {
      ByteView send(sendbuf, sendcount, sendtype, true);
      strata->gather(send.data(), nullptr, block, DataType::kUint8, root);
      return;
    }
    ByteView recv(recvbuf, recvcount * strata->size(), recvtype, root_in_place);
    if (root_in_place) {
      strata->gather(recv.data() + rank * block, recv.data(), block, DataType::kUint8, root);
    } else {
      ByteView send(sendbuf, sendcount, sendtype, true);
      strata->gather(send.data(), recv.data(), block, DataType::kUint8, root);
    }
    recv.unpack();
  });
}

int MPI_Scatter(const void* sendbuf, int sendcount, MPI_Datatype sendtype, void* recvbuf, int recvcount,
                MPI_Datatype recvtype, int root, MPI_Comm comm) {
  const int rank = rank_of(comm);
  const bool root_in_place = rank == root && recvbuf == MPI_IN_PLACE;
  const uint64_t block = rank == root ? type_bytes(sendcount, sendtype) : type_bytes(recvcount, recvtype);
  int status = MPI_SUCCESS;
  auto strata = decide_or_error(Call::kScatter, comm, &status,
                                [&] { return decide_move(Call::kScatter, block, comm); });
  if (status != MPI_SUCCESS) return status;
  if (!strata || root < 0 || root >= strata->size())
    return PMPI_Scatter(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, root, comm);
  return guarded(Call::kScatter, comm, [&] {
    if (rank != root) {
      ByteView recv(recvbuf, recvcount, recvtype, false);
      strata->scatter(nullptr, recv.data(), block, DataType::kUint8, root);
      recv.unpack();
      return;
    }
    ByteView send(sendbuf, sendcount * strata->size(), sendtype, true);
    if (root_in_place) {
      strata->scatter(send.data(), send.data() + rank * block, block, DataType::kUint8, root);
      return;  // the root's own block stays where it is
    }
    ByteView recv(recvbuf, recvcount, recvtype, false);
    strata->scatter(send.data(), recv.data(), block, DataType::kUint8, root);
    recv.unpack();
  });
}

int MPI_Barrier(MPI_Comm comm) {
  int status = MPI_SUCCESS;
  auto strata = decide_or_error(Call::kBarrier, comm, &status, [&] { return decide_move(Call::kBarrier, 1, comm); });
  if (status != MPI_SUCCESS) return status;
  if (!strata) return PMPI_Barrier(comm);
  return guarded(Call::kBarrier, comm, [&] { strata->barrier(); });
}

}  // extern "C"
