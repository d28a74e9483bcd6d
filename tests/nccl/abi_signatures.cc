// The C++ type of every NCCL function, as its mangled name, against
// whichever nccl.h the build put on the include path. Built twice like
// abi_table.c. Equal mangled names mean equal parameter and return types,
// down to the struct and enum names (which C++ code that mentions them
// depends on), so this also checks our header from C++.
#include <nccl.h>

#include <typeinfo>

#include "abi_fields.h"

#ifndef ABI_SIGNATURES
#error "define ABI_SIGNATURES to the name of the function to export"
#endif

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // ncclResetDebugInit

#define ABI_SIGNATURE(function) typeid(&function).name(), typeid(&p##function).name(),

// Stores up to `capacity` names; returns how many functions there are.
extern "C" int ABI_SIGNATURES(const char** names, int capacity) {
  static const char* const kAll[] = {ABI_FUNCTIONS(ABI_SIGNATURE)};
  const int count = static_cast<int>(sizeof(kAll) / sizeof(kAll[0]));
  for (int i = 0; i < count && i < capacity; ++i) names[i] = kAll[i];
  return count;
}
