#include "nccl/argument_check.h"

#include <cstdint>


namespace strata::nccl {

DataType check_datatype(const ncclDataType_t& datatype, const ErrorContext& context) {
  const int value = raw_enum(datatype);
  if (value < 0 || value >= static_cast<int>(ncclNumTypes)) {
    fail(ErrorCode::kInvalidArgument, context, "datatype {} is not a valid ncclDataType_t (expected 0..{})",
         value, static_cast<int>(ncclNumTypes) - 1);
  }
  // ncclDataType_t and strata::DataType share their numbering.
  return static_cast<DataType>(value);
}

uint64_t check_count(size_t count, DataType type, uint64_t blocks, const ErrorContext& context) {
  // No object may be larger than PTRDIFF_MAX bytes, so anything above that
  // is a wrapped negative or garbage count, not a real buffer.
  const uint64_t element_bytes = datatype_size(type);
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(uint64_t{count}, element_bytes, &bytes) ||
      __builtin_mul_overflow(bytes, blocks, &bytes) || bytes > uint64_t{PTRDIFF_MAX}) {
    fail(ErrorCode::kInvalidArgument, context,
         "count {} of {} ({} bytes each, {} block(s)) overflows the largest possible buffer", count,
         datatype_name(type), element_bytes, blocks);
  }
  return bytes;
}

void check_rank_argument(int value, const char* name, int nranks, const ErrorContext& context) {
  if (value < 0 || value >= nranks) {
    fail(ErrorCode::kInvalidArgument, context, "{} {} is not a rank of this communicator (expected 0..{})", name,
         value, nranks - 1);
  }
}

void check_buffer(const void* buffer, const char* name, uint64_t bytes, const ErrorContext& context) {
  if (bytes == 0) return;
  if (buffer == nullptr) {
    fail(ErrorCode::kInvalidArgument, context, "argument {} is NULL but must hold {} bytes", name, bytes);
  }
  // CUDA device memory is fine: the entry points stage it (device_staging.h).
}

void check_out_pointer(const void* pointer, const char* name, const ErrorContext& context) {
  if (pointer == nullptr) fail(ErrorCode::kInvalidArgument, context, "argument {} is NULL", name);
}

}  // namespace strata::nccl
