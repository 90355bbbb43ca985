#include "tests/support/test_env.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

namespace caudal::test {

std::string pg_admin_url() {
  const char* url = std::getenv("CAUDAL_TEST_PG_URL");
  if (url == nullptr || *url == '\0')
    FAIL("CAUDAL_TEST_PG_URL is not set: run the suite through scripts/test, which starts PostgreSQL");
  return url;
}

}  // namespace caudal::test
