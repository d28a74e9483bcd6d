/* Evaluates every ABI fact of abi_fields.h against whichever nccl.h the
 * build put on the include path. Built twice: ABI_TABLE is abi_table_nvidia
 * (NVIDIA's header) or abi_table_strata (ours). Plain C on purpose: C
 * programs are the strictest users of the header. */
#include <stddef.h>

#include <nccl.h>

#include "abi_fields.h"

#ifndef ABI_TABLE
#error "define ABI_TABLE to the name of the function to export"
#endif

/* Fails to compile if the build picked the wrong header. */
#if defined(ABI_EXPECT_NVIDIA) && !defined(NCCL_H_)
#error "expected NVIDIA's nccl.h on the include path"
#endif
#if defined(ABI_EXPECT_STRATA) && !defined(STRATA_NCCL_H)
#error "expected Strata's include/nccl.h on the include path"
#endif

#define ABI_STORE(expr) \
  if (count < capacity) values[count] = (long)(expr); \
  ++count;

/* Writes up to `capacity` values; returns how many facts there are. */
int ABI_TABLE(long* values, int capacity) {
  ncclConfig_t init = NCCL_CONFIG_INITIALIZER;
  ncclSimInfo_t sim = NCCL_SIM_INFO_INITIALIZER;
  int count = 0;
  ABI_FIELDS(ABI_STORE)
  return count;
}
