// pg_connection against a real server: errors as values, session settings, prepared statements, COPY,
// reconnect; the text codecs against PostgreSQL's own uuid and bigint handling.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "storage/pg_codec.hpp"
#include "storage/pg_connection.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/test_env.hpp"

using namespace caudal;
using caudal::test::scalar;
using caudal::test::test_database;
using caudal::test::why;

TEST_CASE("uuid text encoding is big-endian hi then lo, and PostgreSQL orders it numerically") {
  CHECK(storage::codec::uuid_text(u128{0x0123456789abcdefull, 0xfedcba9876543210ull}) ==
        "01234567-89ab-cdef-fedc-ba9876543210");
  CHECK(storage::codec::uuid_text(u128{}) == "00000000-0000-0000-0000-000000000000");
  CHECK(storage::codec::uuid_text(u128::max()) == "ffffffff-ffff-ffff-ffff-ffffffffffff");
  u128 back;
  CHECK(storage::codec::parse_uuid("01234567-89AB-cdef-fedc-ba9876543210", back));
  CHECK(back == u128{0x0123456789abcdefull, 0xfedcba9876543210ull});
  CHECK_FALSE(storage::codec::parse_uuid("01234567-89ab-cdef-fedc-ba987654321", back));
  CHECK_FALSE(storage::codec::parse_uuid("01234567-89ab-cdef-fedc-ba98765432100", back));
  CHECK_FALSE(storage::codec::parse_uuid("0123456g-89ab-cdef-fedc-ba9876543210", back));

  test_database db("codec", /*migrate=*/false);
  auto c = db.connect();
  // Random values (seeded) through uuid: text round trip and ORDER BY equal to u128 order.
  std::mt19937_64 rng(42);
  std::vector<u128> values = {u128{}, u128::max(), u128{0, UINT64_MAX}, u128{1, 0}, u128{0x8000000000000000ull, 0}};
  for (int i = 0; i < 200; ++i)
    values.push_back(u128{rng() >> (i % 64), rng()});
  storage::codec::array_literal arr(values.size(), 36);
  for (const auto& v : values)
    arr.add_uuid(v);
  auto r = c->query("SELECT u::text FROM unnest($1::uuid[]) AS u ORDER BY u", {arr.c_str()});
  REQUIRE_MESSAGE(r.ok(), why(r));
  std::vector<u128> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  REQUIRE(r->size() == static_cast<int>(sorted.size()));
  for (int i = 0; i < r->size(); ++i) {
    u128 v;
    REQUIRE(storage::codec::parse_uuid(r->text(i, 0), v));
    CHECK(v == sorted[static_cast<size_t>(i)]);
  }
  // u64 bit patterns through bigint.
  storage::codec::array_literal ints(4);
  for (uint64_t v : {uint64_t{0}, uint64_t{UINT64_MAX}, uint64_t{1} << 63, uint64_t{(uint64_t{1} << 63) - 1}})
    ints.add_u64_bits(v);
  auto back_ints = c->query("SELECT unnest($1::bigint[])::text", {ints.c_str()});
  REQUIRE(back_ints.ok());
  std::vector<uint64_t> got;
  for (int i = 0; i < back_ints->size(); ++i) {
    int64_t v = 0;
    REQUIRE(storage::codec::parse_i64(back_ints->text(i, 0), v));
    got.push_back(static_cast<uint64_t>(v));
  }
  CHECK(got == std::vector<uint64_t>{0, UINT64_MAX, uint64_t{1} << 63, (uint64_t{1} << 63) - 1});
}

TEST_CASE("open sets application_name and the session settings; errors are values") {
  test_database db("conn", /*migrate=*/false);
  auto c = db.connect("caudal-conn-test");
  CHECK(c->healthy());
  CHECK(c->backend_pid() > 0);
  CHECK(scalar(*c, "SHOW application_name") == "caudal-conn-test");
  CHECK(scalar(*c, "SHOW synchronous_commit") == "on");
  CHECK(scalar(*c, "SHOW plan_cache_mode") == "force_generic_plan");

  SUBCASE("a failing statement is internal with the server's message and SQLSTATE, never its parameters") {
    auto bad = c->query("SELECT $1::int", {"not-a-number-secret"});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == errc::internal);
    CHECK(c->last_sqlstate() == "22P02");
    CHECK(bad.error().detail.find("22P02") != std::string::npos);
    CHECK(c->healthy());
    auto dup = c->exec("CREATE TABLE t (k int PRIMARY KEY); INSERT INTO t VALUES (7); INSERT INTO t VALUES (7)");
    REQUIRE_FALSE(dup.ok());
    CHECK(c->last_sqlstate() == "23505");
    CHECK(c->last_constraint() == "t_pkey");
    CHECK(dup.error().detail.find("(7)") == std::string::npos);  // the DETAIL line quotes the key: left out
  }
  SUBCASE("parameters, NULLs and prepared statements") {
    auto r = c->query("SELECT $1::text, $2::text IS NULL", {"x", nullptr});
    REQUIRE(r.ok());
    CHECK(std::string(r->text(0, 0)) == "x");
    CHECK(std::string(r->text(0, 1)) == "t");
    for (int i = 0; i < 3; ++i) {
      const std::string v = std::to_string(i);
      auto p = c->query_prepared("conn_test_add", "SELECT $1::int + 1", {v.c_str()});
      REQUIRE(p.ok());
      CHECK(std::string(p->text(0, 0)) == std::to_string(i + 1));
    }
    CHECK(scalar(*c, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'conn_test_add'") == "1");
  }
  SUBCASE("copy_in: rows in, and a bad row fails the whole COPY") {
    REQUIRE(c->exec("CREATE TABLE c (a bigint, b uuid)").ok());
    std::string payload;
    for (int i = 0; i < 5000; ++i)
      payload += std::to_string(i) + "\t" + caudal::test::uuid(static_cast<uint64_t>(i)) + "\n";
    REQUIRE(c->copy_in("COPY c (a, b) FROM STDIN", payload).ok());
    CHECK(scalar(*c, "SELECT count(*) FROM c") == "5000");
    auto bad = c->copy_in("COPY c (a, b) FROM STDIN", "1\tnot-a-uuid\n");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == errc::internal);
    CHECK(c->healthy());
    CHECK(scalar(*c, "SELECT count(*) FROM c") == "5000");
    auto no_copy = c->copy_in("COPY nowhere FROM STDIN", "1\n");
    CHECK_FALSE(no_copy.ok());
    CHECK(c->healthy());
  }
  SUBCASE("a terminated backend gives database_unavailable; reconnect restores the session") {
    auto admin = db.connect("caudal-conn-admin");
    REQUIRE(c->query_prepared("conn_test_one", "SELECT 1", {}).ok());
    const std::string pid = std::to_string(c->backend_pid());
    REQUIRE(admin->query("SELECT pg_terminate_backend($1::int)", {pid.c_str()}).ok());
    auto dead = c->exec("SELECT 1");
    REQUIRE_FALSE(dead.ok());
    CHECK(dead.error().code == errc::database_unavailable);
    CHECK_FALSE(c->healthy());
    CHECK(c->query("SELECT 1", {}).error().code == errc::database_unavailable);
    REQUIRE(c->reconnect().ok());
    CHECK(c->healthy());
    CHECK(std::to_string(c->backend_pid()) != pid);
    CHECK(scalar(*c, "SHOW application_name") == "caudal-conn-test");
    CHECK(scalar(*c, "SHOW plan_cache_mode") == "force_generic_plan");
    // The prepared statement is prepared again on the new session.
    CHECK(c->query_prepared("conn_test_one", "SELECT 1", {}).ok());
  }
}

TEST_CASE("an unreachable server is database_unavailable and the detail never holds the password") {
  auto c = storage::pg_connection::open("postgresql://caudal:s3cretpw@127.0.0.1:1/nowhere", "caudal-test");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == errc::database_unavailable);
  CHECK(c.error().detail.find("s3cretpw") == std::string::npos);
  CHECK_FALSE(c.error().detail.empty());
}

TEST_CASE("test_database URLs") {
  CHECK(test_database::with_database("postgresql://u@h:5/postgres", "x") == "postgresql://u@h:5/x");
  CHECK(test_database::with_database("postgresql://u@h:5", "x") == "postgresql://u@h:5/x");
  CHECK(test_database::with_database("postgresql://u@h:5/db?sslmode=disable", "x") ==
        "postgresql://u@h:5/x?sslmode=disable");
  CHECK(test_database::with_database("postgresql://u@h:5?sslmode=disable", "x") ==
        "postgresql://u@h:5/x?sslmode=disable");
  CHECK(test_database::with_database("host=h port=5", "x") == "host=h port=5 dbname=x");
  std::string name;
  std::unique_ptr<storage::pg_connection> held;  // outlives the database on purpose: the destructor ends it
  {
    test_database db("drop me");
    name = db.name();
    held = db.connect();
    CHECK(scalar(*held, "SELECT current_database()") == name);
  }
  CHECK_FALSE(held->exec("SELECT 1").ok());
  auto admin = storage::pg_connection::open(caudal::test::pg_admin_url(), "caudal-test");
  REQUIRE(admin.ok());
  auto r = admin.value()->query("SELECT count(*) FROM pg_database WHERE datname = $1", {name.c_str()});
  REQUIRE(r.ok());
  CHECK(std::string(r->text(0, 0)) == "0");
}
