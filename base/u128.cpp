#include "base/u128.hpp"

#include <algorithm>

namespace caudal {

namespace {
// GCC's native 128-bit integer (an extension: __extension__ keeps -Wpedantic quiet).
__extension__ typedef unsigned __int128 native_u128;

// Divides v by 10 in place, returning the remainder; 128-bit arithmetic through native_u128.
unsigned divmod10(native_u128& v) {
  unsigned r = static_cast<unsigned>(v % 10);
  v /= 10;
  return r;
}
}  // namespace

std::string to_decimal(const u128& v) {
  native_u128 x = (static_cast<native_u128>(v.hi) << 64) | v.lo;
  if (x == 0)
    return "0";
  std::string out;
  while (x != 0)
    out.push_back(static_cast<char>('0' + divmod10(x)));
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<u128> parse_u128(std::string_view text) {
  if (text.empty() || text.size() > 39)
    return std::nullopt;
  native_u128 x = 0;
  const native_u128 limit = ~static_cast<native_u128>(0);
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    unsigned d = static_cast<unsigned>(c - '0');
    if (x > (limit - d) / 10)
      return std::nullopt;
    x = x * 10 + d;
  }
  return u128{static_cast<uint64_t>(x >> 64), static_cast<uint64_t>(x)};
}

void to_bytes_be(const u128& v, uint8_t out[16]) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(v.hi >> (56 - 8 * i));
    out[8 + i] = static_cast<uint8_t>(v.lo >> (56 - 8 * i));
  }
}

u128 from_bytes_be(const uint8_t in[16]) {
  u128 v;
  for (int i = 0; i < 8; ++i) {
    v.hi = (v.hi << 8) | in[i];
    v.lo = (v.lo << 8) | in[8 + i];
  }
  return v;
}

}  // namespace caudal
