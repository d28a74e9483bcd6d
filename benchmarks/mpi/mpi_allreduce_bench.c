/* A plain MPI allreduce benchmark, knowing nothing of Strata: run it as is,
 * or under LD_PRELOAD=libstrata-mpi.so, and compare (scripts/bench-mpi-shim.sh).
 *   mpi_allreduce_bench [-b MIN_BYTES] [-e MAX_BYTES] [-f FACTOR] [-n ITERS] [-w WARMUP] [--op sum|band]
 *                       [--loop 1]
 * Float32 (int32 for band), in place off. Each timed iteration starts after a
 * barrier; its time is the slowest rank's; the median over iterations is
 * printed per size, with the number of wrong elements (every rank adds
 * rank+1+iteration, so the sum is known). --loop 1 times ITERS back-to-back
 * calls instead (osu_latency style: the mean per call, slowest rank), for
 * latencies too small to time one at a time. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static long parse_size(const char* text) {
  char* end = NULL;
  double value = strtod(text, &end);
  if (*end == 'K' || *end == 'k') value *= 1024;
  if (*end == 'M' || *end == 'm') value *= 1024 * 1024;
  if (*end == 'G' || *end == 'g') value *= 1024.0 * 1024 * 1024;
  return (long)value;
}

int main(int argc, char** argv) {
  long min_bytes = 8, max_bytes = 64L << 20, factor = 4;
  int iters = 10, warmup = 2, band = 0, loop = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-b")) min_bytes = parse_size(argv[i + 1]);
    else if (!strcmp(argv[i], "-e")) max_bytes = parse_size(argv[i + 1]);
    else if (!strcmp(argv[i], "-f")) factor = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "-n")) iters = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-w")) warmup = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--op")) band = !strcmp(argv[i + 1], "band");
    else if (!strcmp(argv[i], "--loop")) loop = atoi(argv[i + 1]);
  }
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0) printf("# mpi_allreduce_bench: %d ranks, %s, %d iterations\n#  bytes  median_us  wrong\n", size,
                        band ? "int32 BAND" : "float32 SUM", iters);
  double* times = malloc(sizeof(double) * iters);
  for (long bytes = min_bytes; bytes <= max_bytes; bytes *= factor) {
    const long count = bytes / 4 > 0 ? bytes / 4 : 1;
    float* send = malloc(count * 4);
    float* recv = malloc(count * 4);
    long wrong = 0;
    if (loop) {
      MPI_Datatype type = band ? MPI_INT : MPI_FLOAT;
      MPI_Op op = band ? MPI_BAND : MPI_SUM;
      for (long i = 0; i < count; ++i) ((int*)send)[i] = 1 << (rank % 30) | 1;
      for (int it = 0; it < warmup; ++it) MPI_Allreduce(send, recv, (int)count, type, op, MPI_COMM_WORLD);
      MPI_Barrier(MPI_COMM_WORLD);
      const double start = MPI_Wtime();
      for (int it = 0; it < iters; ++it) MPI_Allreduce(send, recv, (int)count, type, op, MPI_COMM_WORLD);
      double per_call = (MPI_Wtime() - start) / iters, slowest = 0;
      PMPI_Allreduce(&per_call, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      if (rank == 0) printf("%9ld %10.2f %6d\n", bytes, slowest * 1e6, 0);
      free(send), free(recv);
      continue;
    }
    for (int it = 0; it < warmup + iters; ++it) {
      for (long i = 0; i < count; ++i) {
        if (band) ((int*)send)[i] = 1 << (rank % 30) | 1;
        else send[i] = (float)(rank + 1 + it);
      }
      MPI_Barrier(MPI_COMM_WORLD);
      const double start = MPI_Wtime();
      MPI_Allreduce(send, recv, (int)count, band ? MPI_INT : MPI_FLOAT, band ? MPI_BAND : MPI_SUM, MPI_COMM_WORLD);
      double elapsed = MPI_Wtime() - start, slowest = 0;
      PMPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      const float want = (float)size * (size + 1) / 2 + (float)size * it;
      for (long i = 0; i < count; ++i)
        wrong += band ? ((int*)recv)[i] != (size == 1 ? 1 << (rank % 30) | 1 : 1) : recv[i] != want;
      if (it >= warmup) times[it - warmup] = slowest;
    }
    long total_wrong = 0;
    PMPI_Allreduce(&wrong, &total_wrong, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    qsort(times, iters, sizeof(double), compare);
    if (rank == 0) printf("%9ld %10.2f %6ld\n", bytes, times[iters / 2] * 1e6, total_wrong);
    fflush(stdout);
    free(send), free(recv);
  }
  free(times);
  MPI_Finalize();
  return 0;
}
