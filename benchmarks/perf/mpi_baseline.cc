#include "benchmarks/perf/mpi_baseline.h"

#include <mpi.h>

#include <climits>
#include <cstring>

#include "common/host_reduce.h"

namespace strata::perf {
namespace {

// MPI_User_function for the types MPI has no arithmetic for. MPI computes
// inout = in (op) inout; the ops are commutative, so the order is immaterial.
template <DataType kType, ReduceOp kOp>
void host_reduce_user_function(void* in, void* inout, int* len, MPI_Datatype*) {
  host_reduce(kType, kOp, inout, in, inout, static_cast<size_t>(*len));
}

template <DataType kType>
MPI_User_function* user_function(ReduceOp op) {
  switch (op) {
    case ReduceOp::kProd: return &host_reduce_user_function<kType, ReduceOp::kProd>;
    case ReduceOp::kMax: return &host_reduce_user_function<kType, ReduceOp::kMax>;
    case ReduceOp::kMin: return &host_reduce_user_function<kType, ReduceOp::kMin>;
    case ReduceOp::kSum: break;
  }
  return &host_reduce_user_function<kType, ReduceOp::kSum>;
}

MPI_User_function* small_float_user_function(DataType type, ReduceOp op) {
  switch (type) {
    case DataType::kFloat16: return user_function<DataType::kFloat16>(op);
    case DataType::kBFloat16: return user_function<DataType::kBFloat16>(op);
    case DataType::kFloat8E4M3: return user_function<DataType::kFloat8E4M3>(op);
    default: return user_function<DataType::kFloat8E5M2>(op);
  }
}

bool is_small_float(DataType type) { return is_floating(type) && datatype_size(type) < 4; }

// The small floats travel as same-sized unsigned integers; only the
// user-defined MPI_Op looks inside them.
MPI_Datatype mpi_datatype(DataType type) {
  switch (type) {
    case DataType::kInt8: return MPI_INT8_T;
    case DataType::kUint8: return MPI_UINT8_T;
    case DataType::kInt32: return MPI_INT32_T;
    case DataType::kUint32: return MPI_UINT32_T;
    case DataType::kInt64: return MPI_INT64_T;
    case DataType::kUint64: return MPI_UINT64_T;
    case DataType::kFloat32: return MPI_FLOAT;
    case DataType::kFloat64: return MPI_DOUBLE;
    case DataType::kFloat16:
    case DataType::kBFloat16: return MPI_UINT16_T;
    case DataType::kFloat8E4M3:
    case DataType::kFloat8E5M2: return MPI_UINT8_T;
  }
  return MPI_BYTE;
}

// Predefined ops for the native types; one user op per (small float, op),
// created once and kept until MPI_Finalize frees it.
MPI_Op mpi_op(DataType type, ReduceOp op) {
  if (!is_small_float(type)) {
    const MPI_Op native[kReduceOpCount] = {MPI_SUM, MPI_PROD, MPI_MAX, MPI_MIN};
    return native[static_cast<int>(op)];
  }
  static MPI_Op created[kDataTypeCount][kReduceOpCount];
  static bool made[kDataTypeCount][kReduceOpCount] = {};
  const int t = static_cast<int>(type);
  const int o = static_cast<int>(op);
  if (!made[t][o]) MPI_Op_create(small_float_user_function(type, op), 1, &created[t][o]);
  made[t][o] = true;
  return created[t][o];
}

struct MpiArgs {
  void* send;
  void* recv;
  int count;
  size_t bytes;  // count elements
  MPI_Datatype type;
  MPI_Op op;
  int root;
  int rank;
  int nranks;
};

// The Strata collective's MPI counterpart, without the finish.
void run_mpi_collective(Collective collective, const MpiArgs& a) {
  const MPI_Comm world = MPI_COMM_WORLD;
  switch (collective) {
    case Collective::kAllReduce: MPI_Allreduce(a.send, a.recv, a.count, a.type, a.op, world); break;
    case Collective::kBroadcast:
      // MPI_Bcast works in place; the root sends from its input and, to give
      // the same out-of-place result as Strata, copies it to its output.
      MPI_Bcast(a.rank == a.root ? a.send : a.recv, a.count, a.type, a.root, world);
      if (a.rank == a.root) std::memcpy(a.recv, a.send, a.bytes);
      break;
    case Collective::kReduce: MPI_Reduce(a.send, a.recv, a.count, a.type, a.op, a.root, world); break;
    case Collective::kAllGather: MPI_Allgather(a.send, a.count, a.type, a.recv, a.count, a.type, world); break;
    case Collective::kReduceScatter: MPI_Reduce_scatter_block(a.send, a.recv, a.count, a.type, a.op, world); break;
    case Collective::kAllToAll: MPI_Alltoall(a.send, a.count, a.type, a.recv, a.count, a.type, world); break;
    case Collective::kGather: MPI_Gather(a.send, a.count, a.type, a.recv, a.count, a.type, a.root, world); break;
    case Collective::kScatter: MPI_Scatter(a.send, a.count, a.type, a.recv, a.count, a.type, a.root, world); break;
    case Collective::kSend:
    case Collective::kRecv:
      MPI_Sendrecv(a.send, a.count, a.type, (a.rank + 1) % a.nranks, 0, a.recv, a.count, a.type,
                   (a.rank + a.nranks - 1) % a.nranks, 0, world, MPI_STATUS_IGNORE);
      break;
  }
}

}  // namespace

std::optional<std::function<void()>> mpi_call(const CollectiveRequest& request, Placement placement, int rank) {
  if (request.count > static_cast<uint64_t>(INT_MAX)) return std::nullopt;
  int nranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  const bool reduces = collective_reduces(request.collective);
  const MpiArgs args{placement.send,
                     placement.recv,
                     static_cast<int>(request.count),
                     request.bytes_per_block(),
                     mpi_datatype(request.dtype),
                     reduces ? mpi_op(request.dtype, request.op) : MPI_OP_NULL,
                     request.root,
                     rank,
                     nranks};
  const uint64_t finished = reduces && request.finish.kind != FinishKind::kNone ? output_count(request, rank) : 0;
  return [request, args, finished] {
    run_mpi_collective(request.collective, args);
    if (finished > 0) host_finish(request.dtype, request.finish, args.recv, finished);
  };
}

}  // namespace strata::perf
