// IEEE 754 binary16 <-> binary32, bit-exact with OpenEXR's `half` and numpy's float16 (round to nearest even).
// OFX hosts hand half-float images as raw 16-bit words; the bridge converts only where a plane must change type
// (a half matte under a float plate, an output clip whose depth differs from the source).
#pragma once

#include <cstdint>
#include <cstring>

namespace vh::ofx {

inline float halfToFloat(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;  // +-0
    } else {        // subnormal: renormalise into float's wider exponent range
      exponent = 127 - 15 + 1;
      while (!(mantissa & 0x400u)) {
        mantissa <<= 1;
        --exponent;
      }
      bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / nan (payload kept)
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline std::uint16_t floatToHalf(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) {  // inf or nan; keep nan a (quiet) nan
    return static_cast<std::uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  }
  if (absx >= 0x477ff000u) {  // >= 65520 rounds past the largest half (65504)
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  }
  if (absx < 0x38800000u) {  // below 2^-14: a half subnormal (or zero)
    if (absx < 0x33000000u) return static_cast<std::uint16_t>(sign);  // < 2^-25: rounds to zero
    const std::uint32_t exponent = absx >> 23;
    const std::uint32_t mantissa = (absx & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - exponent;  // value / 2^-24 = mantissa * 2^(exponent - 126)
    std::uint32_t h = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (h & 1u))) ++h;  // may carry into the smallest normal: still right
    return static_cast<std::uint16_t>(sign | h);
  }
  std::uint32_t h = (absx - (112u << 23)) >> 13;  // rebias the exponent 127 -> 15, keep 10 mantissa bits
  const std::uint32_t rest = absx & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is the right answer
  return static_cast<std::uint16_t>(sign | h);
}

}  // namespace vh::ofx
