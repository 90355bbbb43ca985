#pragma once
// Environment of integration tests: the PostgreSQL server scripts/test started, and our binaries.
#include <string>

namespace caudal::test {

// CAUDAL_TEST_PG_URL: a superuser connection URL (the tests create and drop their own databases).
// Fails the running test (never skips) when it is not set.
std::string pg_admin_url();

}  // namespace caudal::test
