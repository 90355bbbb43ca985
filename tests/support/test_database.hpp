#pragma once
// A fresh, uniquely named PostgreSQL database for one test (or one test's node processes), on the server
// of CAUDAL_TEST_PG_URL. Owned by the test that creates it, on the test's thread.
//
// The constructor creates the database and, unless told not to, applies schemas/sql with storage::migrate();
// any failure fails the running test. The destructor drops the database, terminating any connection still
// open to it (a node process that was killed, a connection a test forgot).
#include <memory>
#include <string>

#include "storage/pg_connection.hpp"

namespace caudal::test {

class test_database {
 public:
  // `label` goes into the database name (letters, digits, '_'), to tell tests apart in pg_stat_activity.
  explicit test_database(const std::string& label = "t", bool migrate = true);
  ~test_database();
  test_database(const test_database&) = delete;
  test_database& operator=(const test_database&) = delete;

  const std::string& name() const { return name_; }
  // A libpq connection URI of this database (the admin URL with the database name replaced).
  const std::string& url() const { return url_; }
  // A new connection to it; fails the running test if that is impossible.
  std::unique_ptr<storage::pg_connection> connect(const std::string& application_name = "caudal-test") const;

  // The URL with its database name replaced (or added) by `database` (exposed for tests of other servers).
  static std::string with_database(const std::string& url, const std::string& database);

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

}  // namespace caudal::test
