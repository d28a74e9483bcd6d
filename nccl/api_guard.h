// The one place where C++ errors become ncclResult_t. Every exported nccl*
// function runs its body through guard(), so no exception ever crosses the
// C boundary and every failure leaves its text for ncclGetLastError.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "common/error.h"
#include "nccl.h"

namespace strata::nccl {

ncclResult_t to_nccl_result(ErrorCode code);

// Stores `message` as this thread's last error (and notes it for the open
// group, if any, so ncclGroupEnd reports it too); returns `result`.
ncclResult_t record_error(ncclResult_t result, const std::string& message);

// Records the exception currently being handled; call only inside a catch.
ncclResult_t record_current_exception(const char* function) noexcept;

// This thread's last error text ("" before the first error).
const char* last_error_text();
// Replaces it without touching the group's error (asynchronous errors that
// a query reports rather than fails with).
void set_last_error_text(const std::string& message);

// The first error recorded since the outermost ncclGroupStart on this
// thread, then forgets it; ncclSuccess when there was none.
ncclResult_t take_group_error();
void clear_group_error();

// Runs `body` (returning void or ncclResult_t) and maps whatever it throws.
// `function` names the entry point in messages that lack one.
template <typename Body>
ncclResult_t guard(const char* function, Body&& body) noexcept {
  try {
    if constexpr (std::is_void_v<decltype(body())>) {
      std::forward<Body>(body)();
      return ncclSuccess;
    } else {
      return std::forward<Body>(body)();
    }
  } catch (...) {
    return record_current_exception(function);
  }
}

}  // namespace strata::nccl
