#include "nccl/device_staging.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "runtime/communicator/communicator.h"
#include "runtime/config/config.h"
#include "nccl/cuda_driver.h"
#include "nccl/device_memory.h"
#include "nccl/group_context.h"
#include "nccl/per_comm.h"

namespace strata::nccl {
namespace {


// Whether [inner, inner + inner_bytes) lies inside [outer, outer + outer_bytes).
bool inside(const void* inner, uint64_t inner_bytes, const void* outer, uint64_t outer_bytes) {
  const auto i = reinterpret_cast<uintptr_t>(inner);
  const auto o = reinterpret_cast<uintptr_t>(outer);
  return i >= o && i - o <= outer_bytes && inner_bytes <= outer_bytes - (i - o);
}

// Asynchronous staging is EXPERIMENTAL and off unless
// STRATA_NCCL_ASYNC_STAGING=1 (it hung with 4 ranks sharing one H100, see
// README.md); it stays off for the process once the driver refused a stream wait.
std::atomic<bool> g_async_refused{false};
bool async_wanted() {
  return runtime::config().nccl_async_staging && !g_async_refused.load() && driver().async_complete();
}

using EventRef = std::shared_ptr<void>;  // an event, destroyed with its last reference

EventRef record_event(CuStream stream, const ErrorContext& context) {
  CuEvent event = nullptr;
  check_cuda(driver().event_create(&event, kEventDisableTiming), context, "cuEventCreate");
  EventRef ref(event, [](void* e) { driver().event_destroy(e); });
  check_cuda(driver().event_record(event, stream), context, "cuEventRecord");
  return ref;
}

}  // namespace

// A communicator's pinned staging buffers (grow-only) and, once an
// asynchronous call needs it, its proxy thread.
struct StagingPool {
  struct Buffer {
    void* data = nullptr;
    uint64_t bytes = 0;
    CuContext context = nullptr;  // current when it was allocated (for the free)
    bool held = false;            // by a call or group still being set up
    EventRef busy_until;          // the stream copies that still use it
  };
  struct Job {
    CuEvent ready = nullptr;  // the device -> host copy is done
    StagedWork work;
    const void* send = nullptr;
    void* recv = nullptr;
    uint32_t sequence = 0;
    CuContext context = nullptr;
  };

  std::mutex mutex;
  std::condition_variable wake_proxy;
  std::condition_variable idle;
  std::vector<Buffer> buffers;
  std::deque<Job> jobs;
  bool running_job = false;
  uint64_t finished_jobs = 0;  // progress, for the bounded waits
  bool stopping = false;
  std::exception_ptr failure;  // of a queued operation; every later call returns it
  std::thread proxy;
  uint32_t* sequence_host = nullptr;  // pinned, mapped: the proxy writes, streams wait on it
  uintptr_t sequence_device = 0;
  CuContext sequence_context = nullptr;
  uint32_t next_sequence = 0;

  ~StagingPool() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake_proxy.notify_all();
    if (proxy.joinable()) proxy.join();
    for (Buffer& buffer : buffers) {
      if (buffer.data == nullptr) continue;
      const ContextScope scope(buffer.context);
      if (buffer.busy_until) synchronize_event(buffer.busy_until.get(), runtime::config().timeout_s);
      buffer.busy_until.reset();
      driver().mem_free_host(buffer.data);  // errors ignored: the driver may be gone at exit
    }
    if (sequence_host != nullptr) {
      const ContextScope scope(sequence_context);
      driver().mem_free_host(sequence_host);
    }
  }

  // A buffer of at least `bytes` that no call holds and no stream copy uses.
  void* take(uint64_t bytes, CuContext context, const ErrorContext& error_context) {
    std::lock_guard lock(mutex);
    Buffer* chosen = nullptr;
    Buffer* regrow = nullptr;
    for (Buffer& buffer : buffers) {
      if (buffer.held) continue;
      if (buffer.busy_until) {
        if (driver().event_query(buffer.busy_until.get()) != kCudaSuccess) continue;
        buffer.busy_until.reset();
      }
      if (buffer.bytes >= bytes) {
        chosen = &buffer;
        break;
      }
      if (regrow == nullptr) regrow = &buffer;
    }
    if (chosen == nullptr) {
      if (regrow == nullptr) regrow = &buffers.emplace_back();
      if (regrow->data != nullptr) {
        const ContextScope scope(regrow->context);
        driver().mem_free_host(regrow->data);
        *regrow = Buffer{};
      }
      // Whole MiB, at least half again the largest buffer so far, so a
      // growing series of calls reallocates only a few times.
      constexpr uint64_t kMiB = uint64_t{1} << 20;
      uint64_t largest = 0;
      for (const Buffer& buffer : buffers) largest = std::max(largest, buffer.bytes);
      uint64_t grown = std::max(bytes, std::min(largest + largest / 2, bytes * 2));
      grown = (grown + kMiB - 1) / kMiB * kMiB;
      void* data = nullptr;
      check_cuda(driver().mem_host_alloc(&data, grown, kMemHostAllocPortable), error_context,
                 "cuMemHostAlloc (staging for device buffers)");
      *regrow = Buffer{data, grown, context, false, nullptr};
      chosen = regrow;
    }
    chosen->held = true;
    return chosen->data;
  }

  // Gives back buffers a call held; `busy_until` (may be null) says when the
  // stream is done with them.
  void give_back(const std::vector<void*>& taken, const EventRef& busy_until) {
    std::lock_guard lock(mutex);
    for (Buffer& buffer : buffers) {
      if (std::find(taken.begin(), taken.end(), buffer.data) != taken.end() && buffer.held) {
        buffer.held = false;
        buffer.busy_until = busy_until;
      }
    }
  }

  // Starts the proxy and the sequence word; false when the driver cannot.
  bool ensure_proxy(CuContext context) {
    std::lock_guard lock(mutex);
    if (proxy.joinable()) return true;
    void* word = nullptr;
    if (driver().mem_host_alloc(&word, sizeof(uint32_t), kMemHostAllocPortable | kMemHostAllocDeviceMap) !=
        kCudaSuccess) {
      return false;
    }
    uintptr_t device = 0;
    if (driver().mem_host_get_device_pointer(&device, word, 0) != kCudaSuccess) {
      driver().mem_free_host(word);
      return false;
    }
    sequence_host = static_cast<uint32_t*>(word);
    __atomic_store_n(sequence_host, 0u, __ATOMIC_RELEASE);
    sequence_device = device;
    sequence_context = context;
    proxy = std::thread([this] { proxy_loop(); });
    return true;
  }

  uint32_t enqueue(Job job) {
    uint32_t sequence;
    {
      std::lock_guard lock(mutex);
      sequence = ++next_sequence;
      job.sequence = sequence;
      jobs.push_back(std::move(job));
    }
    wake_proxy.notify_one();
    return sequence;
  }

  void proxy_loop() {
    CuContext current = nullptr;
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex);
        wake_proxy.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
        running_job = true;
      }
      if (job.context != current && driver().ctx_set_current(job.context) == kCudaSuccess) current = job.context;
      std::exception_ptr error;
      const double timeout_s = runtime::config().timeout_s;
      const CuResult waited = synchronize_event(job.ready, timeout_s);
      if (waited != kCudaErrorNotReady) driver().event_destroy(job.ready);  // else the copy may still record it
      if (waited == kCudaErrorNotReady) {
        error = std::make_exception_ptr(Error(
            ErrorCode::kTimeout, fmt::format("the device to staging copy did not finish within STRATA_TIMEOUT={}s",
                                             timeout_s)));
      } else if (waited != kCudaSuccess) {
        error = std::make_exception_ptr(
            Error(ErrorCode::kSystem, "cuEventSynchronize (device to staging copy) failed: " + cuda_error_text(waited)));
      } else {
        try {
          job.work(job.send, job.recv);
        } catch (...) {
          error = std::current_exception();
        }
      }
      job.work = nullptr;  // drops what it held (the communicator) before anyone sees the proxy idle
      // Releases the stream even when the operation failed: the program
      // learns of the failure from its next call on this communicator.
      __atomic_store_n(sequence_host, job.sequence, __ATOMIC_RELEASE);
      {
        std::lock_guard lock(mutex);
        if (error && !failure) failure = error;
        running_job = false;
        ++finished_jobs;
      }
      idle.notify_all();
    }
  }

  // Waits until everything queued ran; returns a queued operation's failure.
  std::exception_ptr drain() {
    std::unique_lock lock(mutex);
    if (!wait_with_progress(lock, [&] { return jobs.empty() && !running_job; }))
      return std::make_exception_ptr(stalled("waiting for the queued device-buffer collectives"));
    return failure;
  }

  void wait_for(uint32_t sequence) {
    std::unique_lock lock(mutex);
    const bool done = wait_with_progress(lock, [&] {
      return static_cast<int32_t>(__atomic_load_n(sequence_host, __ATOMIC_ACQUIRE) - sequence) >= 0;
    });
    if (!done) throw stalled("waiting for a queued device-buffer collective");
  }

  // Each job's own waits are bounded by STRATA_TIMEOUT, so a proxy that
  // finishes no job for twice that long is stuck: gives up then. Returns
  // whether `ready` came true.
  template <typename Ready>
  bool wait_with_progress(std::unique_lock<std::mutex>& lock, Ready ready) {
    const auto limit = std::chrono::duration<double>(2 * runtime::config().timeout_s);
    uint64_t seen = finished_jobs;
    while (!idle.wait_for(lock, limit, ready)) {
      if (finished_jobs == seen) return false;
      seen = finished_jobs;
    }
    return true;
  }

  Error stalled(const char* what) const {
    return Error(ErrorCode::kTimeout, fmt::format("{}: the staging proxy finished nothing for 2 x STRATA_TIMEOUT={}s",
                                                  what, runtime::config().timeout_s));
  }

  std::exception_ptr pending_failure() {
    std::lock_guard lock(mutex);
    return failure;
  }
};

namespace {

// One pool per communicator (per_comm.h).
PerComm<StagingPool>& registry() {
  static auto* instance = new PerComm<StagingPool>;
  return *instance;
}
std::shared_ptr<StagingPool> find_pool(const runtime::Communicator* comm) { return registry().find(comm); }
std::shared_ptr<StagingPool> pool_of(const std::shared_ptr<runtime::Communicator>& comm) { return registry().of(comm); }

void copy_back(const PendingCopy& copy) {
  const ContextScope scope(copy.context);
  auto* stream = reinterpret_cast<CuStream>(copy.stream);
  check_cuda(driver().memcpy_htod_async(reinterpret_cast<uintptr_t>(copy.device), copy.host, copy.bytes, stream),
             copy.error_context, "cuMemcpyHtoDAsync (staged result to device)");
  check_stream_done(stream, copy.error_context, "cuStreamSynchronize (after copy back)");
}

}  // namespace

StagedCall::StagedCall(const CommRef& ref, const void* send, uint64_t send_bytes, void* recv, uint64_t recv_bytes,
                       cudaStream_t stream)
    : send_(send), recv_(recv), stream_(stream), context_(ref.context) {
  const bool send_device = send_bytes > 0 && is_device_memory(send);
  const bool recv_device = recv_bytes > 0 && is_device_memory(recv);
  in_group_ = runtime::group_depth() > 0;
  const bool may_be_async = (send_device || recv_device) && !in_group_ && async_wanted();

  // Whatever this call is, operations queued earlier on the communicator's
  // proxy come first; a queued call that failed fails this one too.
  if (std::shared_ptr<StagingPool> existing = find_pool(ref.comm.get())) {
    std::exception_ptr failure = may_be_async ? existing->pending_failure() : existing->drain();
    if (failure) std::rethrow_exception(failure);
  }
  if (!send_device && !recv_device) return;

  if (!driver().complete()) {
    fail(ErrorCode::kInvalidUsage, context_,
         "a buffer is CUDA device memory but the CUDA driver functions staging needs were not found");
  }
  auto* cu_stream = reinterpret_cast<CuStream>(stream);
  const CuContext cu_context = context_of(send_device ? send : recv);
  cu_context_ = cu_context;
  const ContextScope scope(cu_context);
  check_not_capturing(stream, context_);

  pool_ = pool_of(ref.comm);
  async_ = may_be_async && pool_->ensure_proxy(cu_context);

  const auto take = [&](uint64_t bytes) {
    void* staged = pool_->take(bytes, cu_context, context_);
    taken_.push_back(staged);
    return staged;
  };
  // Stage the larger region first when one holds the other (in-place).
  const void* copy_from = nullptr;  // device region to bring to the host
  void* copy_to = nullptr;
  uint64_t copy_bytes = 0;
  if (send_device && recv_device && inside(send, send_bytes, recv, recv_bytes)) {
    void* staged = take(recv_bytes);
    copy_from = recv, copy_to = staged, copy_bytes = recv_bytes;
    send_ = static_cast<char*>(staged) + (static_cast<const char*>(send) - static_cast<const char*>(recv));
    recv_ = staged;
  } else if (send_device && recv_device && inside(recv, recv_bytes, send, send_bytes)) {
    void* staged = take(send_bytes);
    copy_from = send, copy_to = staged, copy_bytes = send_bytes;
    send_ = staged;
    recv_ = static_cast<char*>(staged) + (static_cast<const char*>(recv) - static_cast<const char*>(send));
  } else {
    if (send_device) {
      void* staged = take(send_bytes);
      copy_from = send, copy_to = staged, copy_bytes = send_bytes;
      send_ = staged;
    }
    if (recv_device) recv_ = take(recv_bytes);
  }
  if (recv_device) {
    device_recv_ = recv;
    staged_recv_ = recv_;
    recv_bytes_ = recv_bytes;
  }
  if (copy_bytes > 0) {
    check_cuda(driver().memcpy_dtoh_async(copy_to, reinterpret_cast<uintptr_t>(copy_from), copy_bytes, cu_stream),
               context_, "cuMemcpyDtoHAsync (device buffer to staging)");
  }
  if (async_) {
    // The proxy waits for this event (the caller's earlier work on the
    // stream and the copy), not the caller.
    CuEvent event = nullptr;
    check_cuda(driver().event_create(&event, kEventDisableTiming), context_, "cuEventCreate");
    ready_event_ = event;
    check_cuda(driver().event_record(event, cu_stream), context_, "cuEventRecord");
  } else {
    check_stream_done(cu_stream, context_, "cuStreamSynchronize (before the collective)");
  }
}

void StagedCall::run(StagedWork work) {
  if (!pool_) {
    work(send_, recv_);
    return;
  }
  const ContextScope scope(cu_context_);
  auto* cu_stream = reinterpret_cast<CuStream>(stream_);
  if (!async_) {
    work(send_, recv_);
    if (device_recv_ == nullptr) return;
    PendingCopy copy{device_recv_, staged_recv_, recv_bytes_, stream_, cu_context_, context_};
    if (in_group_) {
      this_thread_group().pending_copies.push_back(std::move(copy));
    } else {
      copy_back(copy);
    }
    return;
  }
  StagingPool::Job job;
  job.ready = ready_event_;
  job.work = std::move(work);
  job.send = send_;
  job.recv = recv_;
  job.context = cu_context_;
  ready_event_ = nullptr;  // the proxy destroys it
  const uint32_t sequence = pool_->enqueue(std::move(job));
  // The stream waits (on the GPU) until the proxy has written `sequence`.
  const CuResult waited = driver().stream_wait_value32(cu_stream, pool_->sequence_device, sequence, kStreamWaitValueGeq);
  if (waited != kCudaSuccess) {
    // No stream memory operations here after all: wait on the host, and
    // stage synchronously from now on.
    g_async_refused.store(true);
    pool_->wait_for(sequence);
  }
  if (device_recv_ != nullptr) {
    check_cuda(driver().memcpy_htod_async(reinterpret_cast<uintptr_t>(device_recv_), staged_recv_, recv_bytes_,
                                          cu_stream),
               context_, "cuMemcpyHtoDAsync (staged result to device)");
  }
  pool_->give_back(taken_, record_event(cu_stream, context_));
  taken_.clear();
}

StagedCall::~StagedCall() {
  if (!pool_) return;
  const ContextScope scope(cu_context_);
  if (ready_event_ != nullptr) {
    // Set up for the proxy but never handed over: let the copy finish first.
    synchronize_stream(reinterpret_cast<CuStream>(stream_), runtime::config().timeout_s);
    driver().event_destroy(ready_event_);
  }
  if (taken_.empty()) return;
  if (in_group_) {
    this_thread_group().held_buffers.push_back(HeldBuffers{pool_, std::move(taken_)});
  } else {
    pool_->give_back(taken_, nullptr);
  }
}

void finish_group_staging(bool copy_results) {
  GroupContext& group = this_thread_group();
  std::vector<PendingCopy> copies = std::move(group.pending_copies);
  group.pending_copies.clear();
  std::vector<HeldBuffers> held = std::move(group.held_buffers);
  group.held_buffers.clear();
  struct GiveBack {
    std::vector<HeldBuffers>& held;
    ~GiveBack() {
      for (HeldBuffers& h : held) h.pool->give_back(h.taken, nullptr);
    }
  } give_back{held};
  if (!copy_results) return;
  for (const PendingCopy& copy : copies) copy_back(copy);
}

void check_not_capturing(cudaStream_t stream, const ErrorContext& context) {
  int capturing = kCaptureStatusNone;
  check_cuda(driver().stream_is_capturing(reinterpret_cast<CuStream>(stream), &capturing), context,
             "cuStreamIsCapturing");
  if (capturing != kCaptureStatusNone) {
    fail(ErrorCode::kInvalidUsage, context,
         "{} with CUDA device buffers on a stream that is capturing a CUDA graph is not supported: the host "
         "drives device-buffer collectives, which a graph cannot replay",
         context.operation);
  }
}

void settle_queued_staging(const runtime::Communicator* comm) {
  if (std::shared_ptr<StagingPool> pool = find_pool(comm)) {
    if (std::exception_ptr failure = pool->drain()) std::rethrow_exception(failure);
  }
}

void drain_staging(const runtime::Communicator* comm, bool stop) {
  std::shared_ptr<StagingPool> pool = find_pool(comm);
  if (!pool) return;
  pool->drain();
  // The pool (its proxy and buffers) goes with the last reference: here, or
  // at the end of a group that still holds some of its buffers.
  if (stop) registry().forget(comm, pool);
}

}  // namespace strata::nccl
