// Storage types for the 16- and 8-bit floating-point formats NCCL supports
// (IEEE half, bfloat16, OCP FP8 E4M3 and E5M2). Arithmetic happens in float:
// each value is widened, combined, and rounded back to nearest-even, which is
// what CUDA's own __half/__nv_bfloat16/__nv_fp8 operators do. FP8 conversions
// saturate to the largest finite value, as CUDA's __NV_SATFINITE does.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/host_device.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#endif

// Device code converts with the hardware (cvt.f32.f16, cvt.rn.f16.f32 and, from
// sm_89, cvt.rn.satfinite.e4m3x2/e5m2x2), which rounds and saturates exactly as
// the software below: the CUDA tests check every result bit for bit, NaNs
// aside (their payload and sign may differ). The software path costs ~60
// integer instructions per fp8 element, which made fp8 kernels compute-bound.
#if defined(__CUDA_ARCH__)
#define STRATA_DEVICE_HALF_CONVERT 1
#if __CUDA_ARCH__ >= 890
#define STRATA_DEVICE_FP8_CONVERT 1
#endif
#endif

namespace strata {
namespace small_float {

STRATA_HD uint32_t float_bits(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}

STRATA_HD float bits_float(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

// Shifts `value` right by `shift` bits, rounding to nearest, ties to even.
STRATA_HD uint32_t shift_round_even(uint32_t value, int shift) {
  if (shift <= 0) return value;
  if (shift >= 32) return 0;
  const uint32_t kept = value >> shift;
  const uint32_t rest = value & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
}

// A binary format with kExp exponent bits and kMant mantissa bits. kIeeeInf:
// the all-ones exponent means inf/NaN (half, E5M2); otherwise only the all-ones
// pattern is NaN (E4M3). kSaturate: overflow clamps to the largest finite value.
template <int kExp, int kMant, bool kIeeeInf, bool kSaturate>
struct Format {
  static constexpr int kBias = (1 << (kExp - 1)) - 1;
  static constexpr uint32_t kExpMask = (1u << kExp) - 1;
  static constexpr uint32_t kSignBit = 1u << (kExp + kMant);
  static constexpr uint32_t kInf = kExpMask << kMant;
  static constexpr uint32_t kMaxFinite = kIeeeInf ? kInf - 1 : (kInf | ((1u << kMant) - 2));
  static constexpr uint32_t kNan = kIeeeInf ? (kInf | (1u << (kMant - 1))) : (kInf | ((1u << kMant) - 1));

  STRATA_HD static uint32_t encode(float value) {
    const uint32_t bits = float_bits(value);
    const uint32_t sign = (bits >> 31) ? kSignBit : 0;
    const uint32_t exp_f = (bits >> 23) & 0xff;
    const uint32_t mant_f = bits & 0x7fffff;
    if (exp_f == 0xff) {
      if (mant_f != 0) return sign | kNan;
      return sign | (kIeeeInf && !kSaturate ? kInf : kMaxFinite);
    }
    if (exp_f == 0) return sign;  // float subnormals are far below every target's range
    const int exp_t = static_cast<int>(exp_f) - 127 + kBias;
    uint32_t code;
    if (exp_t >= 1) {
      // Rounding may carry into the exponent field, which is the right encoding.
      code = (static_cast<uint32_t>(exp_t) << kMant) + shift_round_even(mant_f, 23 - kMant);
      if (exp_t > static_cast<int>(kExpMask)) code = kMaxFinite + 1;
    } else {
      code = shift_round_even(mant_f | 0x800000, 23 - kMant + 1 - exp_t);
    }
    if (code > kMaxFinite) code = (kIeeeInf && !kSaturate) ? kInf : kMaxFinite;
    return sign | code;
  }

  STRATA_HD static float decode(uint32_t code) {
    const uint32_t sign = (code & kSignBit) ? 0x80000000u : 0;
    const uint32_t exp_t = (code >> kMant) & kExpMask;
    const uint32_t mant = code & ((1u << kMant) - 1);
    if (kIeeeInf && exp_t == kExpMask)
      return bits_float(sign | 0x7f800000u | (mant ? 0x400000u : 0));
    if (!kIeeeInf && (code & ~kSignBit) == kNan) return bits_float(sign | 0x7fc00000u);
    if (exp_t == 0) {
      // Subnormal: mant * 2^(1 - bias - kMant), exact in float.
      const float magnitude = static_cast<float>(mant) * bits_float((127u + 1 - kBias - kMant) << 23);
      return sign ? -magnitude : magnitude;
    }
    return bits_float(sign | ((exp_t - kBias + 127) << 23) | (mant << (23 - kMant)));
  }
};

using HalfFormat = Format<5, 10, true, false>;
using E4M3Format = Format<4, 3, false, true>;
using E5M2Format = Format<5, 2, true, true>;

}  // namespace small_float

struct Half {
  uint16_t bits;
  STRATA_HD static Half from_float(float v) {
#if defined(STRATA_DEVICE_HALF_CONVERT)
    return {__half_as_ushort(__float2half_rn(v))};
#else
    return {static_cast<uint16_t>(small_float::HalfFormat::encode(v))};
#endif
  }
  STRATA_HD float to_float() const {
#if defined(STRATA_DEVICE_HALF_CONVERT)
    return __half2float(__ushort_as_half(bits));
#else
    return small_float::HalfFormat::decode(bits);
#endif
  }
};

struct BFloat16 {
  uint16_t bits;
  STRATA_HD static BFloat16 from_float(float v) {
    const uint32_t b = small_float::float_bits(v);
    if ((b & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((b >> 16) | 0x40)};  // keep NaN a NaN
    return {static_cast<uint16_t>(small_float::shift_round_even(b, 16))};
  }
  STRATA_HD float to_float() const { return small_float::bits_float(static_cast<uint32_t>(bits) << 16); }
};

struct Float8E4M3 {
  uint8_t bits;
  STRATA_HD static Float8E4M3 from_float(float v) {
#if defined(STRATA_DEVICE_FP8_CONVERT)
    return {static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3))};
#else
    return {static_cast<uint8_t>(small_float::E4M3Format::encode(v))};
#endif
  }
  STRATA_HD float to_float() const {
#if defined(STRATA_DEVICE_FP8_CONVERT)
    return __half2float(__half(__nv_cvt_fp8_to_halfraw(bits, __NV_E4M3)));
#else
    return small_float::E4M3Format::decode(bits);
#endif
  }
};

struct Float8E5M2 {
  uint8_t bits;
  STRATA_HD static Float8E5M2 from_float(float v) {
#if defined(STRATA_DEVICE_FP8_CONVERT)
    return {static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E5M2))};
#else
    return {static_cast<uint8_t>(small_float::E5M2Format::encode(v))};
#endif
  }
  STRATA_HD float to_float() const {
#if defined(STRATA_DEVICE_FP8_CONVERT)
    return __half2float(__half(__nv_cvt_fp8_to_halfraw(bits, __NV_E5M2)));
#else
    return small_float::E5M2Format::decode(bits);
#endif
  }
};

}  // namespace strata
