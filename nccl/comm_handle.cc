#include "nccl/comm_handle.h"

#include <mutex>
#include <unordered_set>

#include "runtime/bootstrap/bootstrap.h"

// The object behind ncclComm_t (declared in the global namespace by nccl.h).
//
// Detecting use after destroy. A C caller may pass a pointer it already
// destroyed, or one that never came from us. Reading through such a pointer
// is undefined behaviour, so no entry point dereferences a handle before
// finding it in a registry of every handle this library ever returned.
// Destroy and abort do not free the handle: they release the communicator
// and keep the small shell (a few dozen bytes) for the life of the process,
// marked dead. Because the shell's memory is never reused, a stale pointer
// always finds its own dead shell, so "destroyed" and "aborted" are reported
// exactly instead of a newer communicator being hit by accident. The magic
// field is a second check: it catches a live shell the program overwrote.
struct ncclComm {
  static constexpr uint64_t kLiveMagic = 0x5354524154414e43;  // "STRATANC"
  static constexpr uint64_t kDeadMagic = 0xdeadc0111dead000;

  uint64_t magic = kLiveMagic;
  strata::nccl::CommState state = strata::nccl::CommState::kPending;
  int rank = -1;
  int size = 0;
  int cuda_device = 0;
  ncclResult_t failure = ncclSuccess;
  strata::nccl::CommParts parts;
  strata::nccl::RedOpTable redops;
};

namespace strata::nccl {

CommParts::CommParts() = default;
CommParts::CommParts(CommParts&&) noexcept = default;
CommParts& CommParts::operator=(CommParts&&) noexcept = default;
CommParts::~CommParts() {
  comm.reset();  // the communicator may still use the bootstrap while it shuts down
  bootstrap.reset();
}

namespace {

std::mutex g_mutex;
// Every shell ever handed out, live or dead; see the comment on ncclComm.
// Never destroyed: a call during exit must still find it, and the shells
// stay reachable (not reported as leaks) until the process ends.
std::unordered_set<const ncclComm*>& g_shells = *new std::unordered_set<const ncclComm*>;

// Completes "comm <pointer> ...".
const char* state_description(CommState state) {
  switch (state) {
    case CommState::kPending: return "is still being created (its ncclGroupEnd has not run)";
    case CommState::kLive: return "is live";
    case CommState::kFailed: return "could not be created (creation failed; ncclCommGetAsyncError says why)";
    case CommState::kFinalized: return "was finalized by ncclCommFinalize";
    case CommState::kDestroyed: return "was destroyed by ncclCommDestroy";
    case CommState::kAborted: return "was aborted by ncclCommAbort";
  }
  return "is in an unknown state";
}

bool is_dead(CommState state) { return state == CommState::kDestroyed || state == CommState::kAborted; }

// Requires g_mutex.
CommRef snapshot(ncclComm* handle, const char* function) {
  CommRef ref;
  ref.handle = handle;
  ref.comm = handle->parts.comm;
  ref.state = handle->state;
  ref.rank = handle->rank;
  ref.size = handle->size;
  ref.cuda_device = handle->cuda_device;
  ref.failure = handle->failure;
  ref.context = ErrorContext{handle->rank, -1, function};
  return ref;
}

// Requires g_mutex.
void set_live(ncclComm* handle, CommParts parts) {
  handle->rank = parts.comm->rank();
  handle->size = parts.comm->size();
  handle->parts = std::move(parts);
  handle->state = CommState::kLive;
}

[[noreturn]] void fail_state(const CommRef& ref, ErrorCode code) {
  fail(code, ref.context, "comm {} {}", static_cast<const void*>(ref.handle), state_description(ref.state));
}

}  // namespace

ncclComm* register_comm(CommParts parts, int rank, int size, int cuda_device) {
  auto* handle = new ncclComm;
  handle->rank = rank;
  handle->size = size;
  handle->cuda_device = cuda_device;
  std::lock_guard lock(g_mutex);
  if (parts.comm) set_live(handle, std::move(parts));
  g_shells.insert(handle);
  return handle;
}

bool complete_comm(ncclComm* handle, CommParts& parts) {
  std::lock_guard lock(g_mutex);
  if (handle->state != CommState::kPending) return false;
  set_live(handle, std::move(parts));
  return true;
}

void fail_comm(ncclComm* handle, ncclResult_t result) {
  std::lock_guard lock(g_mutex);
  if (handle->state != CommState::kPending) return;
  handle->state = CommState::kFailed;
  handle->failure = result;
}

CommRef lookup_comm(ncclComm_t handle, const char* function) {
  if (handle == nullptr) fail(ErrorCode::kInvalidArgument, {-1, -1, function}, "argument comm is NULL");
  std::lock_guard lock(g_mutex);
  if (!g_shells.contains(handle)) {
    fail(ErrorCode::kInvalidArgument, {-1, -1, function},
         "argument comm {} is not a communicator created by this library", static_cast<const void*>(handle));
  }
  const uint64_t expected = is_dead(handle->state) ? ncclComm::kDeadMagic : ncclComm::kLiveMagic;
  if (handle->magic != expected) {
    fail(ErrorCode::kInvalidArgument, {handle->rank, -1, function},
         "communicator {} is corrupted (its memory was overwritten)", static_cast<const void*>(handle));
  }
  CommRef ref = snapshot(handle, function);
  if (is_dead(ref.state)) fail_state(ref, ErrorCode::kInvalidUsage);
  return ref;
}

CommRef usable_comm(ncclComm_t handle, const char* function) {
  CommRef ref = lookup_comm(handle, function);
  if (ref.state != CommState::kLive) fail_state(ref, ErrorCode::kInvalidUsage);
  return ref;
}

CommRef queryable_comm(ncclComm_t handle, const char* function) {
  CommRef ref = lookup_comm(handle, function);
  if (ref.state != CommState::kLive && ref.state != CommState::kFinalized) {
    fail_state(ref, ErrorCode::kInvalidUsage);
  }
  return ref;
}

void finalize_comm(ncclComm* handle) {
  std::lock_guard lock(g_mutex);
  if (handle->state == CommState::kLive) handle->state = CommState::kFinalized;
}

CommParts retire_comm(ncclComm* handle, CommState why) {
  std::lock_guard lock(g_mutex);
  handle->state = why;
  handle->magic = ncclComm::kDeadMagic;
  handle->redops.clear();
  return std::move(handle->parts);
}

RedOpTable& redops_of(ncclComm* handle) { return handle->redops; }

}  // namespace strata::nccl
