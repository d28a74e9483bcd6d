#include "common/error.h"

namespace strata {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kInvalidUsage: return "invalid usage";
    case ErrorCode::kSystem: return "system error";
    case ErrorCode::kInternal: return "internal error";
    case ErrorCode::kRemote: return "remote error";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kAborted: return "aborted";
    case ErrorCode::kCuda: return "CUDA error";
  }
  return "unknown error";
}

namespace {

std::string describe(ErrorCode code, const std::string& message, const ErrorContext& context) {
  std::string text = fmt::format("strata: {}", error_code_name(code));
  if (!context.operation.empty()) text += fmt::format(" in {}", context.operation);
  if (context.rank >= 0) text += fmt::format(" on rank {}", context.rank);
  if (context.peer >= 0) text += fmt::format(" (peer {})", context.peer);
  return text + ": " + message;
}

}  // namespace

Error::Error(ErrorCode code, std::string message, ErrorContext context)
    : std::runtime_error(describe(code, message, context)),
      code_(code),
      context_(std::move(context)) {}

}  // namespace strata
