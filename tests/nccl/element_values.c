#include "element_values.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

size_t element_size(ncclDataType_t type) {
  switch (type) {
    case ncclInt8: case ncclUint8: case ncclFloat8e4m3: case ncclFloat8e5m2: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    default: return 8;
  }
}

const char* element_type_name(ncclDataType_t type) {
  static const char* const names[] = {"int8",    "uint8",   "int32",    "uint32",  "int64",   "uint64",
                                      "float16", "float32", "float64",  "bfloat16", "fp8e4m3", "fp8e5m2"};
  return (int)type >= 0 && (int)type < 12 ? names[type] : "?";
}

/* IEEE half for values with at most 11 significant bits (no subnormals). */
static uint16_t half_from_double(double value) {
  if (value == 0) return 0;
  const uint16_t sign = value < 0 ? 0x8000 : 0;
  int exponent = 0;
  const double fraction = frexp(fabs(value), &exponent); /* value = fraction * 2^exponent, fraction in [0.5, 1) */
  const uint16_t mantissa = (uint16_t)((fraction * 2 - 1) * 1024);
  return (uint16_t)(sign | (uint16_t)((exponent - 1 + 15) << 10) | mantissa);
}

static double half_to_double(uint16_t bits) {
  if ((bits & 0x7fff) == 0) return 0;
  const double magnitude = ldexp(1 + (bits & 0x3ff) / 1024.0, ((bits >> 10) & 0x1f) - 15);
  return bits & 0x8000 ? -magnitude : magnitude;
}

/* bfloat16 is the top half of a float32. */
static uint16_t bfloat16_from_double(double value) {
  const float single = (float)value;
  uint32_t bits = 0;
  memcpy(&bits, &single, sizeof(bits));
  return (uint16_t)(bits >> 16);
}

static double bfloat16_to_double(uint16_t half) {
  const uint32_t bits = (uint32_t)half << 16;
  float single = 0;
  memcpy(&single, &bits, sizeof(single));
  return single;
}

void element_store(ncclDataType_t type, void* buffer, size_t index, double value) {
  switch (type) {
    case ncclInt8: ((int8_t*)buffer)[index] = (int8_t)value; break;
    case ncclUint8: ((uint8_t*)buffer)[index] = (uint8_t)value; break;
    case ncclInt32: ((int32_t*)buffer)[index] = (int32_t)value; break;
    case ncclUint32: ((uint32_t*)buffer)[index] = (uint32_t)value; break;
    case ncclInt64: ((int64_t*)buffer)[index] = (int64_t)value; break;
    case ncclUint64: ((uint64_t*)buffer)[index] = (uint64_t)value; break;
    case ncclFloat16: ((uint16_t*)buffer)[index] = half_from_double(value); break;
    case ncclFloat32: ((float*)buffer)[index] = (float)value; break;
    case ncclFloat64: ((double*)buffer)[index] = value; break;
    case ncclBfloat16: ((uint16_t*)buffer)[index] = bfloat16_from_double(value); break;
    default: break; /* fp8 is not used by the tests */
  }
}

double element_load(ncclDataType_t type, const void* buffer, size_t index) {
  switch (type) {
    case ncclInt8: return ((const int8_t*)buffer)[index];
    case ncclUint8: return ((const uint8_t*)buffer)[index];
    case ncclInt32: return ((const int32_t*)buffer)[index];
    case ncclUint32: return ((const uint32_t*)buffer)[index];
    case ncclInt64: return (double)((const int64_t*)buffer)[index];
    case ncclUint64: return (double)((const uint64_t*)buffer)[index];
    case ncclFloat16: return half_to_double(((const uint16_t*)buffer)[index]);
    case ncclFloat32: return ((const float*)buffer)[index];
    case ncclFloat64: return ((const double*)buffer)[index];
    case ncclBfloat16: return bfloat16_to_double(((const uint16_t*)buffer)[index]);
    default: return NAN;
  }
}
