// The few CUDA driver entry points the NCCL layer needs for device buffers,
// found with dlopen(RTLD_NOLOAD) so that libnccl.so.2 never links or starts
// CUDA: machines without a GPU or driver load it and run host collectives.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"

namespace strata::nccl {

// The driver API values used here, from cuda.h (stable since CUDA 10).
using CuResult = int;
using CuContext = void*;
using CuStream = void*;
constexpr CuResult kCudaSuccess = 0;
constexpr int kPointerAttributeContext = 1;        // CU_POINTER_ATTRIBUTE_CONTEXT
constexpr unsigned kMemHostAllocPortable = 0x01;  // CU_MEMHOSTALLOC_PORTABLE
constexpr int kCaptureStatusNone = 0;             // CU_STREAM_CAPTURE_STATUS_NONE
constexpr unsigned kMemHostAllocDeviceMap = 0x02; // CU_MEMHOSTALLOC_DEVICEMAP
constexpr unsigned kEventDisableTiming = 0x2;     // CU_EVENT_DISABLE_TIMING
constexpr unsigned kStreamWaitValueGeq = 0x0;     // CU_STREAM_WAIT_VALUE_GEQ
constexpr CuResult kCudaErrorNotReady = 600;      // CUDA_ERROR_NOT_READY
using CuEvent = void*;

struct Driver {
  CuResult (*pointer_get_attribute)(void* data, int attribute, uintptr_t pointer) = nullptr;
  CuResult (*memcpy_dtoh_async)(void* host, uintptr_t device, size_t bytes, CuStream stream) = nullptr;
  CuResult (*memcpy_htod_async)(uintptr_t device, const void* host, size_t bytes, CuStream stream) = nullptr;
  CuResult (*stream_synchronize)(CuStream stream) = nullptr;
  CuResult (*stream_query)(CuStream stream) = nullptr;
  CuResult (*stream_is_capturing)(CuStream stream, int* status) = nullptr;
  CuResult (*mem_host_alloc)(void** pointer, size_t bytes, unsigned flags) = nullptr;
  CuResult (*mem_free_host)(void* pointer) = nullptr;
  CuResult (*ctx_push)(CuContext context) = nullptr;
  CuResult (*ctx_pop)(CuContext* context) = nullptr;
  CuResult (*get_error_string)(CuResult error, const char** text) = nullptr;
  CuResult (*ctx_get_device)(int* device) = nullptr;
  // For the asynchronous path only.
  CuResult (*event_create)(CuEvent* event, unsigned flags) = nullptr;
  CuResult (*event_record)(CuEvent event, CuStream stream) = nullptr;
  CuResult (*event_query)(CuEvent event) = nullptr;
  CuResult (*event_synchronize)(CuEvent event) = nullptr;
  CuResult (*event_destroy)(CuEvent event) = nullptr;
  CuResult (*stream_wait_value32)(CuStream stream, uintptr_t address, uint32_t value, unsigned flags) = nullptr;
  CuResult (*mem_host_get_device_pointer)(uintptr_t* device, void* host, unsigned flags) = nullptr;
  CuResult (*ctx_set_current)(CuContext context) = nullptr;

  bool async_complete() const {
    return complete() && event_create && event_record && event_query && event_synchronize && event_destroy &&
           stream_wait_value32 && mem_host_get_device_pointer && ctx_set_current;
  }

  bool complete() const {
    return pointer_get_attribute && memcpy_dtoh_async && memcpy_htod_async && stream_synchronize && stream_query &&
           stream_is_capturing && mem_host_alloc && mem_free_host && ctx_push && ctx_pop;
  }
};

// The driver's entry points once the program has loaded libcuda, else null.
// A program may start CUDA after its first NCCL call, so a miss is retried,
// but only when the process has loaded another shared object since (a
// dlopen search costs ~10 us; asking glibc's counter ~50 ns).
const Driver* loaded_driver();

// loaded_driver(), or a table of null entries. Used once a buffer is known
// to be device memory, which implies the driver is loaded.
const Driver& driver();

std::string cuda_error_text(CuResult result);

// Throws Error(kCuda) naming `what` when `result` is not success.
void check_cuda(CuResult result, const ErrorContext& context, const char* what);

// cuStreamSynchronize and cuEventSynchronize with a limit: poll the
// stream or event until it is done or `timeout_s` (STRATA_TIMEOUT) passed.
// They return the driver's result, or kCudaErrorNotReady when time ran out.
CuResult synchronize_stream(CuStream stream, double timeout_s);
CuResult synchronize_event(CuEvent event, double timeout_s);

// synchronize_stream, throwing Error(kTimeout) or check_cuda's error, naming `what`.
void check_stream_done(CuStream stream, const ErrorContext& context, const char* what);

// The context a device pointer belongs to, or null.
CuContext context_of(const void* device_pointer);

// Makes `context` current on this thread for a scope: the caller may have
// made its device buffers on another thread, with no context current here.
class ContextScope {
 public:
  explicit ContextScope(CuContext context) : pushed_(context != nullptr && driver().ctx_push(context) == kCudaSuccess) {}
  ~ContextScope() {
    CuContext popped = nullptr;
    if (pushed_) driver().ctx_pop(&popped);
  }
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  bool pushed_;
};

}  // namespace strata::nccl
