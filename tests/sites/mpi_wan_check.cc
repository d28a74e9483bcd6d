/* MPI job for the sites tests: proves ranks landed in their sites and moves
 * a known number of bytes between sites, so the test can compare with the
 * emulator's counters (a job that bypasses the WAN moves nothing there).
 *
 *   mpi_wan_check [MIB]   ping-pong MIB MiB (default 4) between rank 0 and
 *                         the first rank of site 1, then allreduce MIB MiB
 * Prints one JSON line from rank 0; exit 0 only if every check passed.
 * C++ only so it builds wherever the project enables just CXX (MPI::MPI_CXX).
 */
#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define HOST_LEN 64

static int env_int(const char *name) {
  const char *value = getenv(name);
  return value ? atoi(value) : -1;
}

/* Every rank knows its STRATA_SITE; ranks of different sites must see
 * different hostnames (own UTS namespace), ranks of one site the same. */
static int check_placement(int rank, int size, int *sites, int *peer) {
  char host[HOST_LEN] = {0};
  std::vector<char> hosts_buf(size_t(size) * HOST_LEN);
  char *hosts = hosts_buf.data();
  int site = env_int("STRATA_SITE"), ok = site >= 0;
  gethostname(host, HOST_LEN - 1);
  MPI_Allgather(&site, 1, MPI_INT, sites, 1, MPI_INT, MPI_COMM_WORLD);
  MPI_Allgather(host, HOST_LEN, MPI_CHAR, hosts, HOST_LEN, MPI_CHAR,
                MPI_COMM_WORLD);
  *peer = -1;
  for (int r = 0; r < size; ++r) {
    int same_host = strcmp(hosts + r * HOST_LEN, hosts) == 0;
    if ((sites[r] == sites[0]) != same_host) ok = 0;
    if (*peer < 0 && sites[r] != sites[0]) *peer = r;
  }
  ok = ok && *peer > 0;
  /* Agree globally, so no rank enters the ping-pong alone. */
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0 && !ok) fprintf(stderr, "mpi_wan_check: bad placement\n");
  return ok;
}

static double ping_pong(int rank, int peer, char *buf, int bytes) {
  double start = MPI_Wtime();
  if (rank == 0) {
    MPI_Send(buf, bytes, MPI_CHAR, peer, 1, MPI_COMM_WORLD);
    MPI_Recv(buf, bytes, MPI_CHAR, peer, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  } else if (rank == peer) {
    MPI_Recv(buf, bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Send(buf, bytes, MPI_CHAR, 0, 2, MPI_COMM_WORLD);
  }
  return MPI_Wtime() - start;
}

/* Each rank contributes rank+1 everywhere; the sum is size*(size+1)/2. */
static int allreduce_check(int size, int count) {
  std::vector<double> data(static_cast<size_t>(count));
  int rank, ok = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int i = 0; i < count; ++i) data[i] = rank + 1;
  MPI_Allreduce(MPI_IN_PLACE, data.data(), count, MPI_DOUBLE, MPI_SUM,
                MPI_COMM_WORLD);
  for (int i = 0; i < count; ++i)
    if (data[i] != size * (size + 1) / 2.0) ok = 0;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  return ok;
}

int main(int argc, char **argv) {
  int rank, size, peer, mib = argc > 1 ? atoi(argv[1]) : 4;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<int> sites(size_t(size), 0);
  int placed = check_placement(rank, size, sites.data(), &peer);
  int bytes = mib << 20;
  std::vector<char> buf(size_t(bytes), 0);
  double pp_s = placed ? ping_pong(rank, peer, buf.data(), bytes) : 0;
  int reduced = allreduce_check(size, bytes / (int)sizeof(double));
  if (rank == 0) {
    printf("{\"ranks\": %d, \"peer\": %d, \"placement_ok\": %s, "
           "\"pingpong_bytes\": %d, \"pingpong_s\": %.6f, "
           "\"allreduce_bytes\": %d, \"allreduce_ok\": %s}\n",
           size, peer, placed ? "true" : "false", 2 * bytes, pp_s, bytes,
           reduced ? "true" : "false");
    fflush(stdout);
  }
  MPI_Finalize();
  return placed && reduced ? 0 : 1;
}
