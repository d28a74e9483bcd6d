// NCCL exports every entry point twice, as ncclX and pncclX, so a profiling
// layer (like MPI's PMPI) can define ncclX itself and forward to pncclX.
// GCC only accepts an alias in the translation unit that defines its target,
// so each *_api.cc lists the aliases of the functions it defines.
#pragma once

// Weak: a profiling library linked ahead of us may supply its own pncclX.
#define STRATA_NCCL_PROFILING_ALIAS(name) \
  extern "C" __attribute__((weak, alias(#name))) __typeof__(name) p##name;
