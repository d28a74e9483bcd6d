// The Fortran bindings. Open MPI's mpif.h / `use mpi` wrappers call PMPI_*
// directly and `use mpi_f08` calls ompi_*_f, so C interception alone never
// sees a Fortran program's collectives (../shared/MPI-SHIM.md, §3). These
// take each routine's four mpif.h manglings and its ompi_*_f name, convert
// the handles and the MPI_IN_PLACE sentinel, and call the C wrappers.
#include <dlfcn.h>
#include <mpi.h>

#include <atomic>

namespace {

// Fortran's MPI_IN_PLACE is the address of a common block in libmpi, under
// one of these names; resolved once.
bool is_fortran_in_place(const void* buffer) {
  static const void* sentinels[4] = {};
  static std::atomic<bool> resolved{false};
  if (!resolved.load(std::memory_order_acquire)) {
    const char* names[] = {"mpi_fortran_in_place_", "mpi_fortran_in_place", "mpi_fortran_in_place__",
                           "MPI_FORTRAN_IN_PLACE"};
    for (int i = 0; i < 4; ++i) sentinels[i] = dlsym(RTLD_DEFAULT, names[i]);
    resolved.store(true, std::memory_order_release);
  }
  for (const void* sentinel : sentinels)
    if (sentinel != nullptr && buffer == sentinel) return true;
  return false;
}

const void* in_place(const void* buffer) { return is_fortran_in_place(buffer) ? MPI_IN_PLACE : buffer; }
void* in_place(void* buffer) { return is_fortran_in_place(buffer) ? MPI_IN_PLACE : buffer; }

MPI_Datatype type(const MPI_Fint* handle) { return PMPI_Type_f2c(*handle); }
MPI_Op op(const MPI_Fint* handle) { return PMPI_Op_f2c(*handle); }
MPI_Comm comm(const MPI_Fint* handle) { return PMPI_Comm_f2c(*handle); }

void f_allreduce(char* send, char* recv, MPI_Fint* count, MPI_Fint* datatype, MPI_Fint* reduce, MPI_Fint* c,
                 MPI_Fint* ierr) {
  *ierr = MPI_Allreduce(in_place(send), recv, *count, type(datatype), op(reduce), comm(c));
}
void f_reduce(char* send, char* recv, MPI_Fint* count, MPI_Fint* datatype, MPI_Fint* reduce, MPI_Fint* root,
              MPI_Fint* c, MPI_Fint* ierr) {
  *ierr = MPI_Reduce(in_place(send), recv, *count, type(datatype), op(reduce), *root, comm(c));
}
void f_reduce_scatter_block(char* send, char* recv, MPI_Fint* count, MPI_Fint* datatype, MPI_Fint* reduce,
                            MPI_Fint* c, MPI_Fint* ierr) {
  *ierr = MPI_Reduce_scatter_block(in_place(send), recv, *count, type(datatype), op(reduce), comm(c));
}
void f_reduce_scatter(char* send, char* recv, MPI_Fint* counts, MPI_Fint* datatype, MPI_Fint* reduce, MPI_Fint* c,
                      MPI_Fint* ierr) {
  static_assert(sizeof(MPI_Fint) == sizeof(int), "Fortran INTEGER arrays are passed as int arrays");
  *ierr = MPI_Reduce_scatter(in_place(send), recv, reinterpret_cast<const int*>(counts), type(datatype), op(reduce),
                             comm(c));
}
void f_bcast(char* buffer, MPI_Fint* count, MPI_Fint* datatype, MPI_Fint* root, MPI_Fint* c, MPI_Fint* ierr) {
  *ierr = MPI_Bcast(buffer, *count, type(datatype), *root, comm(c));
}
void f_allgather(char* send, MPI_Fint* scount, MPI_Fint* stype, char* recv, MPI_Fint* rcount, MPI_Fint* rtype,
                 MPI_Fint* c, MPI_Fint* ierr) {
  *ierr = MPI_Allgather(in_place(send), *scount, type(stype), recv, *rcount, type(rtype), comm(c));
}
void f_alltoall(char* send, MPI_Fint* scount, MPI_Fint* stype, char* recv, MPI_Fint* rcount, MPI_Fint* rtype,
                MPI_Fint* c, MPI_Fint* ierr) {
  *ierr = MPI_Alltoall(in_place(send), *scount, type(stype), recv, *rcount, type(rtype), comm(c));
}
void f_gather(char* send, MPI_Fint* scount, MPI_Fint* stype, char* recv, MPI_Fint* rcount, MPI_Fint* rtype,
              MPI_Fint* root, MPI_Fint* c, MPI_Fint* ierr) {
  *ierr = MPI_Gather(in_place(send), *scount, type(stype), recv, *rcount, type(rtype), *root, comm(c));
}
void f_scatter(char* send, MPI_Fint* scount, MPI_Fint* stype, char* recv, MPI_Fint* rcount, MPI_Fint* rtype,
               MPI_Fint* root, MPI_Fint* c, MPI_Fint* ierr) {
  *ierr = MPI_Scatter(send, *scount, type(stype), in_place(recv), *rcount, type(rtype), *root, comm(c));
}
void f_barrier(MPI_Fint* c, MPI_Fint* ierr) { *ierr = MPI_Barrier(comm(c)); }

}  // namespace

// Every name a Fortran compiler or Open MPI's f08 module may call.
#define STRATA_FORTRAN_NAMES(name, upper, impl, params, args) \
  void mpi_##name##_ params { impl args; }                     \
  void mpi_##name params { impl args; }                        \
  void mpi_##name##__ params { impl args; }                    \
  void MPI_##upper params { impl args; }                       \
  void ompi_##name##_f params { impl args; }

#define STRATA_REDUCE_PARAMS (char* s, char* r, MPI_Fint* n, MPI_Fint* t, MPI_Fint* o, MPI_Fint* c, MPI_Fint* e)
#define STRATA_MOVE_PARAMS \
  (char* s, MPI_Fint* sn, MPI_Fint* st, char* r, MPI_Fint* rn, MPI_Fint* rt, MPI_Fint* c, MPI_Fint* e)
#define STRATA_ROOTED_PARAMS \
  (char* s, MPI_Fint* sn, MPI_Fint* st, char* r, MPI_Fint* rn, MPI_Fint* rt, MPI_Fint* p, MPI_Fint* c, MPI_Fint* e)

extern "C" {
STRATA_FORTRAN_NAMES(allreduce, ALLREDUCE, f_allreduce, STRATA_REDUCE_PARAMS, (s, r, n, t, o, c, e))
STRATA_FORTRAN_NAMES(reduce_scatter_block, REDUCE_SCATTER_BLOCK, f_reduce_scatter_block,
                     STRATA_REDUCE_PARAMS, (s, r, n, t, o, c, e))
STRATA_FORTRAN_NAMES(reduce_scatter, REDUCE_SCATTER, f_reduce_scatter, STRATA_REDUCE_PARAMS,
                     (s, r, n, t, o, c, e))
STRATA_FORTRAN_NAMES(reduce, REDUCE, f_reduce,
                     (char* s, char* r, MPI_Fint* n, MPI_Fint* t, MPI_Fint* o, MPI_Fint* p, MPI_Fint* c, MPI_Fint* e),
                     (s, r, n, t, o, p, c, e))
STRATA_FORTRAN_NAMES(bcast, BCAST, f_bcast,
                     (char* b, MPI_Fint* n, MPI_Fint* t, MPI_Fint* p, MPI_Fint* c, MPI_Fint* e), (b, n, t, p, c, e))
STRATA_FORTRAN_NAMES(allgather, ALLGATHER, f_allgather, STRATA_MOVE_PARAMS, (s, sn, st, r, rn, rt, c, e))
STRATA_FORTRAN_NAMES(alltoall, ALLTOALL, f_alltoall, STRATA_MOVE_PARAMS, (s, sn, st, r, rn, rt, c, e))
STRATA_FORTRAN_NAMES(gather, GATHER, f_gather, STRATA_ROOTED_PARAMS, (s, sn, st, r, rn, rt, p, c, e))
STRATA_FORTRAN_NAMES(scatter, SCATTER, f_scatter, STRATA_ROOTED_PARAMS, (s, sn, st, r, rn, rt, p, c, e))
STRATA_FORTRAN_NAMES(barrier, BARRIER, f_barrier, (MPI_Fint* c, MPI_Fint* e), (c, e))
}
