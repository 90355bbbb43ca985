#pragma once
// Environment of integration tests: the PostgreSQL server scripts/test started, and our binaries.
#include <string>

#include "base/errc.hpp"

namespace caudal::test {

// CAUDAL_TEST_PG_URL: a superuser connection URL (the tests create and drop their own databases).
// Fails the running test (never skips) when it is not set.
std::string pg_admin_url();

// The failure of a result<> as text, "" when it succeeded. For REQUIRE_MESSAGE(r.ok(), why(r)): doctest
// builds messages even for passing checks when asked to report successes (-s).
template <class R>
std::string why(const R& r) {
  return r.ok() ? std::string() : std::string(errc_name(r.error().code)) + ": " + r.error().detail;
}

}  // namespace caudal::test
