// Which memory a user's buffer lives in, so the runtime can pick transports
// and reduction paths. Safe to call on machines without a GPU or driver.
#pragma once

namespace strata {

enum class MemoryKind { kHost, kDevice, kManaged };

// kDevice for cudaMalloc memory, kManaged for cudaMallocManaged memory,
// kHost for everything else: pageable or pinned host memory, nullptr, and
// every pointer when no GPU or driver is usable. Never throws.
MemoryKind memory_kind(const void* ptr);

// Whether a CUDA driver and at least one GPU are usable. Asked once per process.
bool cuda_device_available();

}  // namespace strata
