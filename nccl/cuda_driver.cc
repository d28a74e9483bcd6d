#include "nccl/cuda_driver.h"

#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstddef>
#include <mutex>

#include "common/bounded_poll.h"
#include "runtime/config/config.h"

namespace strata::nccl {
namespace {

template <typename F>
void load(void* library, F& function, const char* name) {
  function = reinterpret_cast<F>(dlsym(library, name));
}

// RTLD_NOLOAD: only a driver the program already loaded; never start CUDA
// ourselves. Returns false when libcuda is not loaded.
bool load_driver(Driver& d) {
    void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (library == nullptr) return false;
    load(library, d.pointer_get_attribute, "cuPointerGetAttribute");
    load(library, d.memcpy_dtoh_async, "cuMemcpyDtoHAsync_v2");
    load(library, d.memcpy_htod_async, "cuMemcpyHtoDAsync_v2");
    load(library, d.stream_synchronize, "cuStreamSynchronize");
    load(library, d.stream_query, "cuStreamQuery");
    load(library, d.stream_is_capturing, "cuStreamIsCapturing");
    load(library, d.mem_host_alloc, "cuMemHostAlloc");
    load(library, d.mem_free_host, "cuMemFreeHost");
    load(library, d.ctx_push, "cuCtxPushCurrent_v2");
    load(library, d.ctx_pop, "cuCtxPopCurrent_v2");
    load(library, d.get_error_string, "cuGetErrorString");
    load(library, d.event_create, "cuEventCreate");
    load(library, d.event_record, "cuEventRecord");
    load(library, d.event_query, "cuEventQuery");
    load(library, d.event_synchronize, "cuEventSynchronize");
    load(library, d.event_destroy, "cuEventDestroy_v2");
    load(library, d.stream_wait_value32, "cuStreamWaitValue32_v2");
    if (d.stream_wait_value32 == nullptr) load(library, d.stream_wait_value32, "cuStreamWaitValue32");
    load(library, d.mem_host_get_device_pointer, "cuMemHostGetDevicePointer_v2");
    load(library, d.ctx_set_current, "cuCtxSetCurrent");
    load(library, d.ctx_get_device, "cuCtxGetDevice");
    return true;  // the handle stays open for the process lifetime on purpose
}

// How many shared objects this process has loaded so far (glibc counts).
unsigned long long objects_loaded() {
  unsigned long long adds = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t size, void* out) {
        if (size >= offsetof(dl_phdr_info, dlpi_adds) + sizeof(info->dlpi_adds)) {
          *static_cast<unsigned long long*>(out) = info->dlpi_adds;
        }
        return 1;  // every entry carries the same counter: one is enough
      },
      &adds);
  return adds;
}

}  // namespace

const Driver* loaded_driver() {
  static std::mutex mutex;
  static Driver table;
  static std::atomic<bool> found{false};
  static unsigned long long loaded_at_last_try = ~0ull;
  if (found.load(std::memory_order_acquire)) return &table;
  std::lock_guard lock(mutex);
  if (found.load(std::memory_order_relaxed)) return &table;
  const unsigned long long loaded = objects_loaded();
  if (loaded == loaded_at_last_try && loaded != 0) return nullptr;
  loaded_at_last_try = loaded;
  if (!load_driver(table)) return nullptr;
  found.store(true, std::memory_order_release);
  return &table;
}

const Driver& driver() {
  static const Driver none;
  const Driver* loaded = loaded_driver();
  return loaded ? *loaded : none;
}


std::string cuda_error_text(CuResult result) {
  const char* text = nullptr;
  if (driver().get_error_string != nullptr && driver().get_error_string(result, &text) == kCudaSuccess &&
      text != nullptr) {
    return text;
  }
  return "CUDA driver error " + std::to_string(result);
}

void check_cuda(CuResult result, const ErrorContext& context, const char* what) {
  if (result != kCudaSuccess) {
    fail(ErrorCode::kCuda, context, "{} failed: {} ({})", what, cuda_error_text(result), result);
  }
}

CuContext context_of(const void* device_pointer) {
  CuContext context = nullptr;
  if (driver().pointer_get_attribute(&context, kPointerAttributeContext,
                                     reinterpret_cast<uintptr_t>(device_pointer)) != kCudaSuccess) {
    return nullptr;
  }
  return context;
}

namespace {

CuResult poll_until_done(CuResult (*query)(void*), void* what, double timeout_s) {
  CuResult result = kCudaSuccess;
  if (!poll_until([&] { return (result = query(what)) != kCudaErrorNotReady; }, timeout_s)) return kCudaErrorNotReady;
  return result;
}

}  // namespace

CuResult synchronize_stream(CuStream stream, double timeout_s) {
  return poll_until_done(driver().stream_query, stream, timeout_s);
}

CuResult synchronize_event(CuEvent event, double timeout_s) {
  return poll_until_done(driver().event_query, event, timeout_s);
}

void check_stream_done(CuStream stream, const ErrorContext& context, const char* what) {
  const double timeout_s = runtime::config().timeout_s;
  const CuResult result = synchronize_stream(stream, timeout_s);
  if (result == kCudaErrorNotReady)
    fail(ErrorCode::kTimeout, context, "{}: the stream did not finish within STRATA_TIMEOUT={}s", what, timeout_s);
  check_cuda(result, context, what);
}

}  // namespace strata::nccl
