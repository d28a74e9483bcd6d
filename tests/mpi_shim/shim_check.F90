! Fortran: every collective libstrata-mpi.so takes, against closed-form
! results, with MPI_IN_PLACE where MPI allows it. Built twice: with `use mpi`
! (which resolves to mpi_allreduce_ and friends) and, with USE_MPI_F08
! defined, `use mpi_f08` (which calls ompi_allreduce_f and friends).
! Prints "shim_check_f: OK" on rank 0.
program shim_check_fortran
#ifdef USE_MPI_F08
  use mpi_f08
#else
  use mpi
#endif
  implicit none
  integer, parameter :: n = 4099
  integer :: ierr, rank, nranks, i, bad, total
  double precision, allocatable :: a(:), b(:), big(:)
  integer, allocatable :: ia(:), ib(:)
  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nranks, ierr)
  allocate(a(n), b(n), big(n * nranks), ia(n), ib(n))
  bad = 0
  a = rank + 1
  call MPI_Allreduce(a, b, n, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD, ierr)
  if (any(b /= nranks * (nranks + 1) / 2)) bad = bad + 1
  ia = rank
  call MPI_Allreduce(MPI_IN_PLACE, ia, n, MPI_INTEGER, MPI_MAX, MPI_COMM_WORLD, ierr)
  if (any(ia /= nranks - 1)) bad = bad + 1
  ib = rank + 1
  call MPI_Reduce(ib, ia, n, MPI_INTEGER, MPI_PROD, 0, MPI_COMM_WORLD, ierr)
  if (rank == 0) then
    if (any(ia /= product([(i, i = 1, nranks)]))) bad = bad + 1
  end if
  a = -1
  if (rank == nranks - 1) a = 42
  call MPI_Bcast(a, n, MPI_DOUBLE_PRECISION, nranks - 1, MPI_COMM_WORLD, ierr)
  if (any(a /= 42)) bad = bad + 1
  a = rank
  call MPI_Allgather(a, n, MPI_DOUBLE_PRECISION, big, n, MPI_DOUBLE_PRECISION, MPI_COMM_WORLD, ierr)
  do i = 0, nranks - 1
    if (any(big(i * n + 1:(i + 1) * n) /= i)) bad = bad + 1
  end do
  big = rank
  call MPI_Reduce_scatter_block(big, b, n, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD, ierr)
  if (any(b /= nranks * (nranks - 1) / 2)) bad = bad + 1
  call MPI_Barrier(MPI_COMM_WORLD, ierr)
  call MPI_Allreduce(bad, total, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, ierr)
  if (rank == 0) then
    if (total == 0) then
      print '(a)', 'shim_check_f: OK'
    else
      print '(a, i0, a)', 'shim_check_f: ', total, ' MISMATCHES'
    end if
  end if
  call MPI_Finalize(ierr)
  if (total /= 0) stop 1
end program shim_check_fortran
