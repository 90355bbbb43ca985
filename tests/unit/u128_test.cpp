#include <doctest/doctest.h>

#include "base/errc.hpp"
#include "base/u128.hpp"

using caudal::u128;

TEST_CASE("u128 decimal round trip") {
  CHECK(caudal::to_decimal(u128{}) == "0");
  CHECK(caudal::to_decimal(u128::max()) == "340282366920938463463374607431768211455");
  CHECK(caudal::to_decimal(u128{1, 0}) == "18446744073709551616");
  auto v = caudal::parse_u128("340282366920938463463374607431768211455");
  REQUIRE(v);
  CHECK(*v == u128::max());
  CHECK(caudal::parse_u128("18446744073709551616") == std::optional<u128>(u128{1, 0}));
  CHECK_FALSE(caudal::parse_u128("340282366920938463463374607431768211456"));  // 2^128
  CHECK_FALSE(caudal::parse_u128(""));
  CHECK_FALSE(caudal::parse_u128("-1"));
  CHECK_FALSE(caudal::parse_u128("12a"));
}

TEST_CASE("u128 big-endian bytes keep numeric order") {
  uint8_t a[16], b[16];
  caudal::to_bytes_be(u128{0, UINT64_MAX}, a);
  caudal::to_bytes_be(u128{1, 0}, b);
  CHECK(std::lexicographical_compare(a, a + 16, b, b + 16));
  CHECK(caudal::from_bytes_be(b) == u128{1, 0});
}

TEST_CASE("every error code has a name; retryable ones are the transient ones") {
  for (uint8_t i = 0; i <= caudal::errc_max; ++i)
    CHECK(caudal::errc_name(static_cast<caudal::errc>(i)) != "");
  CHECK(caudal::errc_retryable(caudal::errc::overloaded));
  CHECK(caudal::errc_retryable(caudal::errc::commit_outcome_unknown));
  CHECK_FALSE(caudal::errc_retryable(caudal::errc::batch_too_large));
  CHECK_FALSE(caudal::errc_retryable(caudal::errc::unauthenticated));
}
