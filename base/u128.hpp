#pragma once
// Unsigned 128-bit value: account, transfer and user-data ids (as TigerBeetle's).
// A value type; decimal text is the human form (CLI, JSON), two 64-bit halves the wire form.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace caudal {

struct u128 {
  uint64_t hi = 0;
  uint64_t lo = 0;

  constexpr bool is_zero() const { return hi == 0 && lo == 0; }
  constexpr bool is_max() const { return hi == UINT64_MAX && lo == UINT64_MAX; }
  static constexpr u128 max() { return {UINT64_MAX, UINT64_MAX}; }
  static constexpr u128 from_u64(uint64_t v) { return {0, v}; }

  friend constexpr bool operator==(const u128& a, const u128& b) { return a.hi == b.hi && a.lo == b.lo; }
  friend constexpr bool operator!=(const u128& a, const u128& b) { return !(a == b); }
  friend constexpr bool operator<(const u128& a, const u128& b) {
    return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
  }
  friend constexpr bool operator>(const u128& a, const u128& b) { return b < a; }
  friend constexpr bool operator<=(const u128& a, const u128& b) { return !(b < a); }
  friend constexpr bool operator>=(const u128& a, const u128& b) { return !(a < b); }
};

// Decimal text, e.g. "340282366920938463463374607431768211455" for u128::max().
std::string to_decimal(const u128& v);
// Parses decimal digits only (no sign, no spaces); nullopt on anything else or overflow.
std::optional<u128> parse_u128(std::string_view text);
// Big-endian 16 bytes: byte order equals numeric order (PostgreSQL uuid columns sort the same way).
void to_bytes_be(const u128& v, uint8_t out[16]);
u128 from_bytes_be(const uint8_t in[16]);

struct u128_hash {
  size_t operator()(const u128& v) const noexcept {
    // splitmix-style mix of both halves; ids are often sequential, so the mix matters.
    uint64_t x = v.lo ^ (v.hi * 0x9E3779B97F4A7C15ull);
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return static_cast<size_t>(x);
  }
};

}  // namespace caudal
