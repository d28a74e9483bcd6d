/* A C program written for NVIDIA NCCL, compiled against NVIDIA's own
 * nccl.h, linked to Strata's libnccl.so.2 and run under mpirun with host
 * buffers: the drop-in promise, end to end. It checks every collective,
 * in place and out of place, several datatypes and operators (ncclAvg and
 * PreMulSum included), a grouped send/recv ring, ncclCommSplit and
 * ncclCommInitRankConfig. Any failure aborts the whole job. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nccl.h>

#include "element_values.h"

#ifndef NCCL_H_
#error "this test must be compiled against NVIDIA's nccl.h"
#endif
#ifndef STRATA_NCCL_LIB_DIR
#error "define STRATA_NCCL_LIB_DIR to the folder holding Strata's libnccl.so.2"
#endif

static int g_rank;
static int g_size;
static const cudaStream_t kNoStream = NULL;

static void die(int line, const char* what, const char* detail) {
  fprintf(stderr, "rank %d: abi_mpi_test.c:%d: %s: %s\n", g_rank, line, what, detail);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

static void die_nccl(int line, const char* call, ncclResult_t result) {
  char detail[2048];
  snprintf(detail, sizeof(detail), "%s [%s]", ncclGetErrorString(result), ncclGetLastError(NULL));
  die(line, call, detail);
}

#define NCCL_OK(call)                                          \
  do {                                                         \
    ncclResult_t result_ = (call);                             \
    if (result_ != ncclSuccess) die_nccl(__LINE__, #call, result_); \
  } while (0)

#define EXPECT(cond, ...)                               \
  do {                                                  \
    if (!(cond)) {                                      \
      char detail_[512];                                \
      snprintf(detail_, sizeof(detail_), __VA_ARGS__);  \
      die(__LINE__, #cond, detail_);                    \
    }                                                   \
  } while (0)

/* ---- values ------------------------------------------------------------ */

/* What rank `rank` contributes at index `index`: small integers, so every
 * sum, product and average below is exact in every datatype tested. */
static double contribution(int rank, size_t index, ncclRedOp_t op) {
  if (op == ncclProd) return (double)((index + (size_t)rank) % 2 + 1);
  return (double)((rank + 1) * (int)(index % 5 + 1));
}

static int is_integer(ncclDataType_t type) { return type <= ncclUint64; }

static double expected_reduction(size_t index, ncclRedOp_t op, ncclDataType_t type) {
  double result = contribution(0, index, op);
  for (int rank = 1; rank < g_size; ++rank) {
    const double value = contribution(rank, index, op);
    if (op == ncclSum || op == ncclAvg) result += value;
    if (op == ncclProd) result *= value;
    if (op == ncclMax && value > result) result = value;
    if (op == ncclMin && value < result) result = value;
  }
  if (op != ncclAvg) return result;
  return is_integer(type) ? (double)((long long)result / g_size) : result / g_size;
}

/* A value that says which rank and block (0..3) it came from, for data
 * movement; below 256 up to 8 ranks, so it fits every datatype. */
static double tagged(int rank, int block, size_t index) { return rank * 32 + block * 8 + (double)(index % 7); }

static void* buffer(ncclDataType_t type, size_t count) {
  void* memory = calloc(count ? count : 1, element_size(type));
  EXPECT(memory != NULL, "out of memory");
  return memory;
}

static void expect_element(ncclDataType_t type, const void* data, size_t index, double want, const char* what) {
  const double got = element_load(type, data, index);
  EXPECT(got == want, "%s %s: element %zu is %g, expected %g", what, element_type_name(type), index, got, want);
}

/* ---- checks -------------------------------------------------------------- */

static void check_library_is_strata(void) {
  Dl_info info;
  char loaded[PATH_MAX];
  char ours[PATH_MAX];
  EXPECT(dladdr((void*)&ncclAllReduce, &info) != 0, "dladdr failed");
  EXPECT(realpath(info.dli_fname, loaded) && realpath(STRATA_NCCL_LIB_DIR, ours), "realpath failed");
  EXPECT(strncmp(loaded, ours, strlen(ours)) == 0, "ncclAllReduce comes from %s, not from %s", loaded, ours);
  int version = 0;
  NCCL_OK(ncclGetVersion(&version));
  EXPECT(version == NCCL_VERSION_CODE, "version %d", version);
}

static void check_allreduce(ncclComm_t comm, ncclDataType_t type, ncclRedOp_t op, size_t count, int in_place) {
  void* send = buffer(type, count);
  void* recv = in_place ? send : buffer(type, count);
  for (size_t i = 0; i < count; ++i) element_store(type, send, i, contribution(g_rank, i, op));
  NCCL_OK(ncclAllReduce(send, recv, count, type, op, comm, kNoStream));
  for (size_t i = 0; i < count; ++i) expect_element(type, recv, i, expected_reduction(i, op, type), "allreduce");
  if (!in_place) free(recv);
  free(send);
}

static void check_premulsum(ncclComm_t comm, ncclDataType_t type, double scalar, size_t count, int in_place) {
  unsigned char scalar_bytes[8];
  element_store(type, scalar_bytes, 0, scalar);
  ncclRedOp_t op;
  NCCL_OK(ncclRedOpCreatePreMulSum(&op, scalar_bytes, type, ncclScalarHostImmediate, comm));
  EXPECT(op >= ncclNumOps, "PreMulSum operator %d", (int)op);
  void* send = buffer(type, count);
  void* recv = in_place ? send : buffer(type, count);
  for (size_t i = 0; i < count; ++i) element_store(type, send, i, contribution(g_rank, i, ncclSum));
  NCCL_OK(ncclAllReduce(send, recv, count, type, op, comm, kNoStream));
  for (size_t i = 0; i < count; ++i) {
    expect_element(type, recv, i, scalar * expected_reduction(i, ncclSum, type), "premulsum");
  }
  NCCL_OK(ncclRedOpDestroy(op, comm));
  if (!in_place) free(recv);
  free(send);
}

static void check_all_reductions(ncclComm_t comm) {
  const ncclDataType_t types[] = {ncclInt8,    ncclUint8,   ncclInt32,   ncclUint32,  ncclInt64,
                                  ncclUint64,  ncclFloat16, ncclFloat32, ncclFloat64, ncclBfloat16};
  const ncclRedOp_t ops[] = {ncclSum, ncclProd, ncclMax, ncclMin, ncclAvg};
  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); ++t)
    for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); ++o)
      for (int in_place = 0; in_place < 2; ++in_place) check_allreduce(comm, types[t], ops[o], 1000, in_place);
  check_allreduce(comm, ncclFloat32, ncclSum, 1, 0);
  check_allreduce(comm, ncclFloat32, ncclSum, 65537, 0);
  check_allreduce(comm, ncclFloat32, ncclSum, 0, 0);
  check_premulsum(comm, ncclFloat32, 0.5, 1000, 0);
  check_premulsum(comm, ncclFloat64, 0.25, 1000, 1);
  check_premulsum(comm, ncclInt32, 3, 1000, 0);
}

/* Any stream handle is accepted and ignored with host buffers. */
static void check_stream_is_ignored(ncclComm_t comm) {
  float value = (float)g_rank;
  NCCL_OK(ncclAllReduce(&value, &value, 1, ncclFloat32, ncclSum, comm, (cudaStream_t)(uintptr_t)0x1234));
  EXPECT(value == (float)(g_size * (g_size - 1) / 2), "sum of ranks %g", value);
}

static void check_broadcast(ncclComm_t comm, size_t count, int in_place) {
  const int root = g_size - 1;
  int32_t* send = buffer(ncclInt32, count);
  int32_t* recv = in_place ? send : buffer(ncclInt32, count);
  for (size_t i = 0; i < count; ++i) send[i] = g_rank == root ? (int32_t)tagged(root, 0, i) : -1;
  NCCL_OK(ncclBroadcast(send, recv, count, ncclInt32, root, comm, kNoStream));
  for (size_t i = 0; i < count; ++i) expect_element(ncclInt32, recv, i, tagged(root, 0, i), "broadcast");
  for (size_t i = 0; i < count; ++i) recv[i] = g_rank == 0 ? (int32_t)tagged(0, 1, i) : -1;
  NCCL_OK(ncclBcast(recv, count, ncclInt32, 0, comm, kNoStream));
  for (size_t i = 0; i < count; ++i) expect_element(ncclInt32, recv, i, tagged(0, 1, i), "bcast");
  if (!in_place) free(recv);
  free(send);
}

/* Out of place, non-root ranks pass recvbuff = NULL, which NCCL allows. */
static void check_reduce(ncclComm_t comm, ncclDataType_t type, ncclRedOp_t op, size_t count, int in_place) {
  const int root = 1 % g_size;
  void* send = buffer(type, count);
  void* recv = in_place ? send : (g_rank == root ? buffer(type, count) : NULL);
  for (size_t i = 0; i < count; ++i) element_store(type, send, i, contribution(g_rank, i, op));
  NCCL_OK(ncclReduce(send, recv, count, type, op, root, comm, kNoStream));
  for (size_t i = 0; g_rank == root && i < count; ++i) {
    expect_element(type, recv, i, expected_reduction(i, op, type), "reduce");
  }
  if (!in_place) free(recv);
  free(send);
}

/* In place: sendbuff = recvbuff + rank * count. */
static void check_allgather(ncclComm_t comm, ncclDataType_t type, size_t count, int in_place) {
  char* recv = buffer(type, count * (size_t)g_size);
  void* send = in_place ? recv + (size_t)g_rank * count * element_size(type) : buffer(type, count);
  for (size_t i = 0; i < count; ++i) element_store(type, send, i, tagged(g_rank, 0, i));
  NCCL_OK(ncclAllGather(send, recv, count, type, comm, kNoStream));
  for (int rank = 0; rank < g_size; ++rank)
    for (size_t i = 0; i < count; ++i)
      expect_element(type, recv, (size_t)rank * count + i, tagged(rank, 0, i), "allgather");
  if (!in_place) free(send);
  free(recv);
}

/* In place: recvbuff = sendbuff + rank * recvcount. */
static void check_reduce_scatter(ncclComm_t comm, ncclDataType_t type, ncclRedOp_t op, size_t count, int in_place) {
  char* send = buffer(type, count * (size_t)g_size);
  void* recv = in_place ? send + (size_t)g_rank * count * element_size(type) : buffer(type, count);
  for (size_t i = 0; i < count * (size_t)g_size; ++i) element_store(type, send, i, contribution(g_rank, i, op));
  NCCL_OK(ncclReduceScatter(send, recv, count, type, op, comm, kNoStream));
  for (size_t i = 0; i < count; ++i) {
    const double want = expected_reduction((size_t)g_rank * count + i, op, type);
    expect_element(type, recv, i, want, "reducescatter");
  }
  if (!in_place) free(recv);
  free(send);
}

static void check_alltoall(ncclComm_t comm, size_t count) {
  float* send = buffer(ncclFloat32, count * (size_t)g_size);
  float* recv = buffer(ncclFloat32, count * (size_t)g_size);
  for (int peer = 0; peer < g_size; ++peer)
    for (size_t i = 0; i < count; ++i) send[(size_t)peer * count + i] = (float)tagged(g_rank, peer, i);
  NCCL_OK(ncclAlltoAll(send, recv, count, ncclFloat32, comm, kNoStream));
  for (int peer = 0; peer < g_size; ++peer)
    for (size_t i = 0; i < count; ++i)
      expect_element(ncclFloat32, recv, (size_t)peer * count + i, tagged(peer, g_rank, i), "alltoall");
  free(recv);
  free(send);
}

/* In place at the root: sendbuff = recvbuff + root * count. */
static void check_gather(ncclComm_t comm, size_t count, int in_place) {
  const int root = 0;
  const size_t block_bytes = count * element_size(ncclInt64);
  char* recv = g_rank == root ? buffer(ncclInt64, count * (size_t)g_size) : NULL;
  void* send = in_place && g_rank == root ? recv + (size_t)root * block_bytes : buffer(ncclInt64, count);
  for (size_t i = 0; i < count; ++i) element_store(ncclInt64, send, i, tagged(g_rank, 2, i));
  NCCL_OK(ncclGather(send, recv, count, ncclInt64, root, comm, kNoStream));
  for (int rank = 0; g_rank == root && rank < g_size; ++rank)
    for (size_t i = 0; i < count; ++i)
      expect_element(ncclInt64, recv, (size_t)rank * count + i, tagged(rank, 2, i), "gather");
  if (!(in_place && g_rank == root)) free(send);
  free(recv);
}

/* In place at the root: recvbuff = sendbuff + root * count. */
static void check_scatter(ncclComm_t comm, size_t count, int in_place) {
  const int root = g_size - 1;
  const size_t block_bytes = count * element_size(ncclFloat64);
  char* send = g_rank == root ? buffer(ncclFloat64, count * (size_t)g_size) : NULL;
  void* recv = in_place && g_rank == root ? send + (size_t)root * block_bytes : buffer(ncclFloat64, count);
  for (int peer = 0; g_rank == root && peer < g_size; ++peer)
    for (size_t i = 0; i < count; ++i) element_store(ncclFloat64, send, (size_t)peer * count + i, tagged(peer, 3, i));
  NCCL_OK(ncclScatter(send, recv, count, ncclFloat64, root, comm, kNoStream));
  for (size_t i = 0; i < count; ++i) expect_element(ncclFloat64, recv, i, tagged(g_rank, 3, i), "scatter");
  if (!(in_place && g_rank == root)) free(recv);
  free(send);
}

static void check_data_movement(ncclComm_t comm) {
  const size_t counts[] = {1, 777, 65537};
  for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); ++c) {
    for (int in_place = 0; in_place < 2; ++in_place) {
      check_broadcast(comm, counts[c], in_place);
      check_reduce(comm, ncclFloat32, ncclSum, counts[c], in_place);
      check_reduce(comm, ncclInt32, ncclMax, counts[c], in_place);
      check_allgather(comm, ncclUint8, counts[c], in_place);
      check_allgather(comm, ncclFloat64, counts[c], in_place);
      check_reduce_scatter(comm, ncclFloat32, ncclSum, counts[c], in_place);
      check_reduce_scatter(comm, ncclInt32, ncclAvg, counts[c], in_place);
      check_gather(comm, counts[c], in_place);
      check_scatter(comm, counts[c], in_place);
    }
    check_alltoall(comm, counts[c]);
  }
}

/* Each rank sends to the next and receives from the previous; only a
 * group lets both progress together. */
static void check_send_recv_ring(ncclComm_t comm, size_t count) {
  const int next = (g_rank + 1) % g_size;
  const int previous = (g_rank + g_size - 1) % g_size;
  int32_t* send = buffer(ncclInt32, count);
  int32_t* recv = buffer(ncclInt32, count);
  for (size_t i = 0; i < count; ++i) send[i] = (int32_t)tagged(g_rank, next, i);
  NCCL_OK(ncclGroupStart());
  NCCL_OK(ncclSend(send, count, ncclInt32, next, comm, kNoStream));
  NCCL_OK(ncclRecv(recv, count, ncclInt32, previous, comm, kNoStream));
  NCCL_OK(ncclGroupEnd());
  for (size_t i = 0; i < count; ++i) expect_element(ncclInt32, recv, i, tagged(previous, g_rank, i), "ring");
  free(recv);
  free(send);
}

/* Two collectives in one group complete at ncclGroupEnd. */
static void check_grouped_collectives(ncclComm_t comm) {
  float first = 1;
  int64_t second = g_rank;
  NCCL_OK(ncclGroupStart());
  NCCL_OK(ncclAllReduce(&first, &first, 1, ncclFloat32, ncclSum, comm, kNoStream));
  NCCL_OK(ncclAllReduce(&second, &second, 1, ncclInt64, ncclMax, comm, kNoStream));
  NCCL_OK(ncclGroupEnd());
  EXPECT(first == (float)g_size && second == g_size - 1, "grouped results %g %lld", first, (long long)second);
}

/* Ranks of one parity form a communicator, ordered backwards by key;
 * rank 0 then opts out of a second split with NCCL_SPLIT_NOCOLOR. */
static void check_split(ncclComm_t comm) {
  ncclComm_t half = NULL;
  NCCL_OK(ncclCommSplit(comm, g_rank % 2, g_size - g_rank, &half, NULL));
  int half_size = 0;
  int half_rank = -1;
  NCCL_OK(ncclCommCount(half, &half_size));
  NCCL_OK(ncclCommUserRank(half, &half_rank));
  const int want_size = (g_size - g_rank % 2 + 1) / 2;
  EXPECT(half_size == want_size && half_rank == want_size - 1 - g_rank / 2, "split: rank %d of %d", half_rank,
         half_size);
  int32_t sum = g_rank;
  NCCL_OK(ncclAllReduce(&sum, &sum, 1, ncclInt32, ncclSum, half, kNoStream));
  int32_t want_sum = 0;
  for (int rank = g_rank % 2; rank < g_size; rank += 2) want_sum += rank;
  EXPECT(sum == want_sum, "split allreduce %d, expected %d", sum, want_sum);
  NCCL_OK(ncclCommDestroy(half));

  ncclComm_t rest = NULL;
  NCCL_OK(ncclCommSplit(comm, g_rank == 0 ? NCCL_SPLIT_NOCOLOR : 0, g_rank, &rest, NULL));
  EXPECT((rest == NULL) == (g_rank == 0), "NCCL_SPLIT_NOCOLOR gave %p", (void*)rest);
  if (rest != NULL) NCCL_OK(ncclCommDestroy(rest));
}

/* A second communicator through ncclCommInitRankConfig with NVIDIA's
 * initializer, non-blocking: Strata finishes creation before returning. */
static void check_config_init(void) {
  ncclUniqueId id;
  if (g_rank == 0) NCCL_OK(ncclGetUniqueId(&id));
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  config.commName = "abi-config";
  ncclComm_t comm = NULL;
  NCCL_OK(ncclCommInitRankConfig(&comm, g_size, id, g_rank, &config));
  ncclResult_t state = ncclInProgress;
  NCCL_OK(ncclCommGetAsyncError(comm, &state));
  EXPECT(state == ncclSuccess, "async state %d", (int)state);
  check_stream_is_ignored(comm);
  NCCL_OK(ncclCommFinalize(comm));
  NCCL_OK(ncclCommDestroy(comm));
}

static ncclComm_t init_world(void) {
  ncclUniqueId id;
  memset(&id, 0, sizeof(id));
  if (g_rank == 0) NCCL_OK(ncclGetUniqueId(&id));
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
  ncclComm_t comm = NULL;
  NCCL_OK(ncclCommInitRank(&comm, g_size, id, g_rank));
  int count = 0;
  int rank = -1;
  int device = -1;
  NCCL_OK(ncclCommCount(comm, &count));
  NCCL_OK(ncclCommUserRank(comm, &rank));
  NCCL_OK(ncclCommCuDevice(comm, &device));
  EXPECT(count == g_size && rank == g_rank && device >= 0, "count %d rank %d device %d", count, rank, device);
  return comm;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  check_library_is_strata();
  ncclComm_t comm = init_world();
  check_all_reductions(comm);
  check_stream_is_ignored(comm);
  check_data_movement(comm);
  check_send_recv_ring(comm, 1);
  check_send_recv_ring(comm, 100003);
  check_grouped_collectives(comm);
  check_split(comm);
  check_config_init();
  NCCL_OK(ncclCommFinalize(comm));
  NCCL_OK(ncclCommDestroy(comm));
  MPI_Barrier(MPI_COMM_WORLD);
  if (g_rank == 0) printf("abi_mpi_test: %d ranks, all checks passed\n", g_size);
  MPI_Finalize();
  return 0;
}
