// Checks of the arguments of NCCL entry points. Each failure throws
// strata::Error whose message names the argument as NCCL's header does
// (sendbuff, recvbuff, count, datatype, op, root, peer) and, through the
// context, the entry point and this rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/datatype.h"
#include "common/error.h"
#include "nccl.h"

namespace strata::nccl {

// The int a C caller passed as an enum argument. C allows any int there;
// C++ makes reading an enum object that holds a value outside its
// enumerators' range undefined, so enum arguments are taken by reference
// and their bits copied, never loaded as the enum type.
template <typename Enum>
int raw_enum(const Enum& value) {
  static_assert(sizeof(Enum) == sizeof(int), "NCCL enums are int-sized");
  int raw = 0;
  std::memcpy(&raw, &value, sizeof(raw));
  return raw;
}

DataType check_datatype(const ncclDataType_t& datatype, const ErrorContext& context);

// `count` elements of `type`, `blocks` times over (nranks for the side of a
// collective that holds one block per rank), in bytes. Throws when that
// cannot be the size of any buffer.
uint64_t check_count(size_t count, DataType type, uint64_t blocks, const ErrorContext& context);

// `value` (named `name`: "root" or "peer") must be a rank of the communicator.
void check_rank_argument(int value, const char* name, int nranks, const ErrorContext& context);

// A buffer of `bytes` bytes: must not be NULL unless `bytes` is 0, and must
// may be host or CUDA device memory (the entry points stage the latter).
void check_buffer(const void* buffer, const char* name, uint64_t bytes, const ErrorContext& context);

// Where a function stores its result.
void check_out_pointer(const void* pointer, const char* name, const ErrorContext& context);

}  // namespace strata::nccl
