/* A rank stops taking part mid-job (it sleeps instead of entering the
 * collective, so mpirun does not see it die and cannot help): the others,
 * under MPI_ERRORS_RETURN, must get an MPI error from libstrata-mpi.so
 * within STRATA_TIMEOUT instead of hanging. Rank 0 prints
 * "shim_fault: rank 0 got MPI error class N after S s" and aborts the job. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  enum { kCount = 1 << 16 };
  static float data[kCount];
  /* A first call creates the Strata communicator with every rank present. */
  int status = MPI_Allreduce(MPI_IN_PLACE, data, kCount, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  if (status != MPI_SUCCESS) {
    fprintf(stderr, "shim_fault: the first allreduce failed on rank %d\n", rank);
    return 2;
  }
  if (rank == size - 1) {
    sleep(120);  /* gone quiet: never enters the second collective */
    return 0;
  }
  const double start = MPI_Wtime();
  status = MPI_Allreduce(MPI_IN_PLACE, data, kCount, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  int error_class = 0;
  MPI_Error_class(status, &error_class);
  if (rank == 0) {
    if (status == MPI_SUCCESS) printf("shim_fault: rank 0 completed without its peer (wrong)\n");
    else printf("shim_fault: rank 0 got MPI error class %d after %.1f s\n", error_class, MPI_Wtime() - start);
    fflush(stdout);
  }
  MPI_Abort(MPI_COMM_WORLD, status == MPI_SUCCESS ? 1 : 0);
  return 0;
}
