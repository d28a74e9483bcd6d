/* Runs every collective libstrata-mpi.so takes through MPI_* (intercepted
 * when the library is preloaded) and through PMPI_* (Open MPI itself) on the
 * same inputs, and compares: bitwise for integers, within reduction-order
 * tolerance for floats. Every dtype and op the shim maps, the ones it must
 * hand back to MPI (MAXLOC, BAND, a user op, a derived type), in place and
 * out of place, on COMM_WORLD, a dup and two splits.
 * Prints "shim_check: OK (N cases)" on rank 0, or the first mismatches. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0, cases = 0, world_rank = 0;

typedef struct {
  MPI_Datatype type;
  const char* name;
  int size;
  int floating;
} Type;

static const Type kTypes[] = {
    {MPI_CHAR, "CHAR", 1, 0},         {MPI_UNSIGNED_CHAR, "UCHAR", 1, 0}, {MPI_INT, "INT", 4, 0},
    {MPI_UNSIGNED, "UNSIGNED", 4, 0}, {MPI_LONG, "LONG", 8, 0},           {MPI_INT64_T, "INT64", 8, 0},
    {MPI_UNSIGNED_LONG, "ULONG", 8, 0}, {MPI_FLOAT, "FLOAT", 4, 1},       {MPI_DOUBLE, "DOUBLE", 8, 1},
};
static const int kCounts[] = {1, 7, 1000, 65539};

/* Small values so that products of up to 8 ranks stay exact. */
static void fill(void* buffer, const Type* type, int count, int seed) {
  for (int i = 0; i < count; ++i) {
    const int v = 1 + (i * 7 + seed * 3) % 3;
    switch (type->size * 2 + type->floating) {
      case 2: ((signed char*)buffer)[i] = (signed char)v; break;
      case 8: ((int*)buffer)[i] = v; break;
      case 9: ((float*)buffer)[i] = (float)v * 0.5f; break;
      case 16: ((long*)buffer)[i] = v; break;
      case 17: ((double*)buffer)[i] = v * 0.25; break;
    }
  }
}

static int same(const void* a, const void* b, const Type* type, int count) {
  if (!type->floating) return memcmp(a, b, (size_t)count * type->size) == 0;
  for (int i = 0; i < count; ++i) {
    const double x = type->size == 4 ? ((const float*)a)[i] : ((const double*)a)[i];
    const double y = type->size == 4 ? ((const float*)b)[i] : ((const double*)b)[i];
    if (fabs(x - y) > 1e-5 * fmax(1.0, fabs(y))) return 0;
  }
  return 1;
}

static void expect(int ok, const char* what, const char* comm, const Type* type, const char* op, int count) {
  ++cases;
  if (!ok && failures++ < 10)
    fprintf(stderr, "shim_check: rank %d: MISMATCH %s on %s, %s %s count %d\n", world_rank, what, comm,
            type ? type->name : "-", op, count);
}

static void user_sum(void* in, void* inout, int* len, MPI_Datatype* type) {
  (void)type;
  for (int i = 0; i < *len; ++i) ((int*)inout)[i] += ((int*)in)[i];
}

static void check_reductions(MPI_Comm comm, const char* name, MPI_Op user_op) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const MPI_Op ops[] = {MPI_SUM, MPI_PROD, MPI_MAX, MPI_MIN};
  const char* op_names[] = {"SUM", "PROD", "MAX", "MIN"};
  for (size_t t = 0; t < sizeof(kTypes) / sizeof(kTypes[0]); ++t) {
    const Type* type = &kTypes[t];
    for (size_t c = 0; c < sizeof(kCounts) / sizeof(kCounts[0]); ++c) {
      const int n = kCounts[c];
      const size_t bytes = (size_t)n * type->size * size;
      char *in = malloc(bytes), *got = malloc(bytes), *want = malloc(bytes);
      for (int o = 0; o < 4; ++o) {
        fill(in, type, n * size, rank + o);
        MPI_Allreduce(in, got, n, type->type, ops[o], comm);
        PMPI_Allreduce(in, want, n, type->type, ops[o], comm);
        expect(same(got, want, type, n), "Allreduce", name, type, op_names[o], n);
        memcpy(got, in, (size_t)n * type->size);
        MPI_Allreduce(MPI_IN_PLACE, got, n, type->type, ops[o], comm);
        expect(same(got, want, type, n), "Allreduce in place", name, type, op_names[o], n);
        const int root = (o + 1) % size;
        MPI_Reduce(in, got, n, type->type, ops[o], root, comm);
        PMPI_Reduce(in, want, n, type->type, ops[o], root, comm);
        if (rank == root) expect(same(got, want, type, n), "Reduce", name, type, op_names[o], n);
        if (rank == root) memcpy(got, in, (size_t)n * type->size);
        MPI_Reduce(rank == root ? MPI_IN_PLACE : in, rank == root ? got : NULL, n, type->type, ops[o], root, comm);
        if (rank == root) expect(same(got, want, type, n), "Reduce in place", name, type, op_names[o], n);
        MPI_Reduce_scatter_block(in, got, n, type->type, ops[o], comm);
        PMPI_Reduce_scatter_block(in, want, n, type->type, ops[o], comm);
        expect(same(got, want, type, n), "Reduce_scatter_block", name, type, op_names[o], n);
        memcpy(got, in, bytes);
        MPI_Reduce_scatter_block(MPI_IN_PLACE, got, n, type->type, ops[o], comm);
        expect(same(got, want, type, n), "Reduce_scatter_block in place", name, type, op_names[o], n);
      }
      free(in), free(got), free(want);
    }
  }
  /* What must go back to MPI, and still be right. */
  int counts[64], in[64 * 4], got[64 * 4], want[64 * 4];
  for (int i = 0; i < size; ++i) counts[i] = 1 + i % 3;
  for (int i = 0; i < 64 * 4; ++i) in[i] = (rank + 1) * (i % 5);
  MPI_Reduce_scatter(in, got, counts, MPI_INT, MPI_SUM, comm);
  PMPI_Reduce_scatter(in, want, counts, MPI_INT, MPI_SUM, comm);
  expect(memcmp(got, want, sizeof(int) * counts[rank]) == 0, "Reduce_scatter unequal", name, NULL, "SUM", 0);
  for (int i = 0; i < size; ++i) counts[i] = 3;
  MPI_Reduce_scatter(in, got, counts, MPI_INT, MPI_SUM, comm);
  PMPI_Reduce_scatter(in, want, counts, MPI_INT, MPI_SUM, comm);
  expect(memcmp(got, want, sizeof(int) * 3) == 0, "Reduce_scatter equal", name, NULL, "SUM", 3);
  MPI_Allreduce(in, got, 10, MPI_INT, MPI_BAND, comm);
  PMPI_Allreduce(in, want, 10, MPI_INT, MPI_BAND, comm);
  expect(memcmp(got, want, sizeof(int) * 10) == 0, "Allreduce BAND (fallback)", name, NULL, "BAND", 10);
  MPI_Allreduce(in, got, 10, MPI_INT, user_op, comm);
  PMPI_Allreduce(in, want, 10, MPI_INT, user_op, comm);
  expect(memcmp(got, want, sizeof(int) * 10) == 0, "Allreduce user op (fallback)", name, NULL, "user", 10);
  MPI_Allreduce(in, got, 5, MPI_2INT, MPI_MAXLOC, comm);
  PMPI_Allreduce(in, want, 5, MPI_2INT, MPI_MAXLOC, comm);
  expect(memcmp(got, want, sizeof(int) * 10) == 0, "Allreduce MAXLOC (fallback)", name, NULL, "MAXLOC", 5);
}

static void check_moves(MPI_Comm comm, const char* name) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  for (size_t c = 0; c < sizeof(kCounts) / sizeof(kCounts[0]); ++c) {
    const int n = kCounts[c];
    const size_t block = (size_t)n * sizeof(double);
    double *in = malloc(block * size), *got = malloc(block * size), *want = malloc(block * size);
    for (int i = 0; i < n * size; ++i) in[i] = rank * 1000.0 + i;
    const int root = size - 1 - (int)c % size;
    memcpy(got, in, block), memcpy(want, in, block);
    MPI_Bcast(got, n, MPI_DOUBLE, root, comm);
    PMPI_Bcast(want, n, MPI_DOUBLE, root, comm);
    expect(!memcmp(got, want, block), "Bcast", name, &kTypes[8], "-", n);
    MPI_Allgather(in, n, MPI_DOUBLE, got, n, MPI_DOUBLE, comm);
    PMPI_Allgather(in, n, MPI_DOUBLE, want, n, MPI_DOUBLE, comm);
    expect(!memcmp(got, want, block * size), "Allgather", name, &kTypes[8], "-", n);
    memcpy(got + (size_t)rank * n, in, block);
    MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, got, n, MPI_DOUBLE, comm);
    expect(!memcmp(got, want, block * size), "Allgather in place", name, &kTypes[8], "-", n);
    MPI_Alltoall(in, n, MPI_DOUBLE, got, n, MPI_DOUBLE, comm);
    PMPI_Alltoall(in, n, MPI_DOUBLE, want, n, MPI_DOUBLE, comm);
    expect(!memcmp(got, want, block * size), "Alltoall", name, &kTypes[8], "-", n);
    memcpy(got, in, block * size);
    MPI_Alltoall(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, got, n, MPI_DOUBLE, comm);
    expect(!memcmp(got, want, block * size), "Alltoall in place", name, &kTypes[8], "-", n);
    MPI_Gather(in, n, MPI_DOUBLE, got, n, MPI_DOUBLE, root, comm);
    PMPI_Gather(in, n, MPI_DOUBLE, want, n, MPI_DOUBLE, root, comm);
    if (rank == root) expect(!memcmp(got, want, block * size), "Gather", name, &kTypes[8], "-", n);
    if (rank == root) memcpy(got + (size_t)rank * n, in, block);
    MPI_Gather(rank == root ? MPI_IN_PLACE : in, n, MPI_DOUBLE, got, n, MPI_DOUBLE, root, comm);
    if (rank == root) expect(!memcmp(got, want, block * size), "Gather in place", name, &kTypes[8], "-", n);
    MPI_Scatter(in, n, MPI_DOUBLE, got, n, MPI_DOUBLE, root, comm);
    PMPI_Scatter(in, n, MPI_DOUBLE, want, n, MPI_DOUBLE, root, comm);
    expect(!memcmp(got, want, block), "Scatter", name, &kTypes[8], "-", n);
    if (rank == root) {
      memcpy(got, in, block * size);
      MPI_Scatter(got, n, MPI_DOUBLE, MPI_IN_PLACE, n, MPI_DOUBLE, root, comm);
      expect(!memcmp(got, in, block * size), "Scatter in place", name, &kTypes[8], "-", n);
    } else {
      MPI_Scatter(NULL, n, MPI_DOUBLE, got, n, MPI_DOUBLE, root, comm);
      expect(!memcmp(got, want, block), "Scatter in place (non-root)", name, &kTypes[8], "-", n);
    }
    free(in), free(got), free(want);
  }
  /* A strided type on the root against plain doubles elsewhere: the same signature. */
  MPI_Datatype every_other;
  MPI_Type_vector(50, 1, 2, MPI_DOUBLE, &every_other);
  MPI_Type_commit(&every_other);
  double strided[100], plain[50], want[50];
  for (int i = 0; i < 100; ++i) strided[i] = rank == 0 ? i : -1;
  if (rank == 0) {
    MPI_Bcast(strided, 1, every_other, 0, comm);
    for (int i = 0; i < 50; ++i) want[i] = strided[2 * i];
  } else {
    MPI_Bcast(plain, 50, MPI_DOUBLE, 0, comm);
    for (int i = 0; i < 50; ++i) want[i] = 2 * i;
    expect(!memcmp(plain, want, sizeof(want)), "Bcast strided root", name, &kTypes[8], "-", 50);
  }
  MPI_Type_free(&every_other);
  MPI_Barrier(comm);
}

static void check(MPI_Comm comm, const char* name, MPI_Op user_op) {
  check_reductions(comm, name, user_op);
  check_moves(comm, name);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Op user_op;
  MPI_Op_create(user_sum, 1, &user_op);
  check(MPI_COMM_WORLD, "COMM_WORLD", user_op);
  MPI_Comm dup, halves, reversed;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  check(dup, "dup", user_op);
  MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_rank, &halves);
  check(halves, "split by parity", user_op);
  MPI_Comm_split(MPI_COMM_WORLD, 0, -world_rank, &reversed);
  check(reversed, "split reversed", user_op);
  MPI_Comm_free(&dup);
  MPI_Comm_free(&halves);  /* `reversed` is left to MPI_Finalize on purpose */
  int total = 0;
  PMPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (world_rank == 0) {
    if (total) printf("shim_check: %d MISMATCHES\n", total);
    else printf("shim_check: OK (%d cases per rank)\n", cases);
  }
  MPI_Op_free(&user_op);
  MPI_Finalize();
  return total ? 1 : 0;
}
