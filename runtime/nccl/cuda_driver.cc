#include "runtime/nccl/cuda_driver.h"

#include <dlfcn.h>

namespace strata::nccl {
namespace {

template <typename F>
void load(void* library, F& function, const char* name) {
  function = reinterpret_cast<F>(dlsym(library, name));
}

}  // namespace

// Asked only once a buffer is known to be device memory, so the program
// has loaded the driver already (RTLD_NOLOAD: never start CUDA ourselves).
const Driver& driver() {
  static const Driver loaded = [] {
    Driver d;
    void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (library == nullptr) return d;
    load(library, d.pointer_get_attribute, "cuPointerGetAttribute");
    load(library, d.memcpy_dtoh_async, "cuMemcpyDtoHAsync_v2");
    load(library, d.memcpy_htod_async, "cuMemcpyHtoDAsync_v2");
    load(library, d.stream_synchronize, "cuStreamSynchronize");
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
    return d;  // the handle stays open for the process lifetime on purpose
  }();
  return loaded;
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
}  // namespace strata::nccl
