// libstrata-mpi.so's state: whether it is on, which collectives it takes,
// the counters STRATA_MPI_STATS prints, and one Strata communicator per MPI
// communicator, created lazily on the first eligible call and cached as an
// attribute that a dup does not copy (see ../shared/MPI-SHIM.md, §4).
#pragma once

#include <mpi.h>

#include <atomic>
#include <memory>
#include <string_view>

#include "runtime/communicator/communicator.h"

namespace strata::mpi {

enum class Call : int {
  kAllreduce, kReduce, kBcast, kAllgather, kReduceScatterBlock, kReduceScatter, kAlltoall, kGather, kScatter,
  kBarrier, kCount
};
std::string_view call_name(Call call);

// Why a call went to PMPI; kNone: it went to Strata.
enum class Fallback : int {
  kNone, kDisabled, kZeroCount, kSmallComm, kInterComm, kDatatype, kOp, kUnequalCounts, kSmallOnHost, kCount
};
std::string_view fallback_name(Fallback reason);

struct Settings {
  bool enabled = true;   // STRATA_MPI=off|0 turns the library off
  bool stats = false;    // STRATA_MPI_STATS=1: one summary line per rank at MPI_Finalize
  int min_ranks = 2;     // STRATA_MPI_MIN_RANKS: smaller communicators stay with MPI
  uint64_t host_min_bytes = 0;  // STRATA_MPI_HOST_MIN_BYTES: on one host, smaller calls stay with MPI
  bool takes[static_cast<int>(Call::kCount)] = {};  // STRATA_MPI_COLLECTIVES: a list, or ^list to exclude
};
// Read once, on the first intercepted call.
const Settings& settings();

// Counts a call's outcome (lock-free).
void count_call(Call call, Fallback reason);

// The Strata communicator behind `comm`, created on first use (collective
// over `comm`: every rank reaches it in the same call), for a call of
// `bytes` per rank. nullptr with *reason set when the call stays with MPI:
// `comm` is an intercommunicator or too small, or every rank is on one host
// and the call is below STRATA_MPI_HOST_MIN_BYTES (Open MPI's shared-memory
// latency is lower there). Every input is the same on every rank, so every
// rank decides alike. Throws strata::Error when creation fails.
std::shared_ptr<runtime::Communicator> communicator_for(MPI_Comm comm, uint64_t bytes, Fallback* reason);

}  // namespace strata::mpi
