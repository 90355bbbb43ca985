// migrate(): each file applied exactly once, even when several processes (here: connections on threads)
// start together; re-runs apply nothing; a failing file is rolled back and not recorded.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "storage/migrations.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/test_env.hpp"

using namespace caudal;
using caudal::test::scalar;
using caudal::test::test_database;
using caudal::test::why;

namespace {

// A scratch folder of migration files, removed at the end.
struct sql_dir {
  std::filesystem::path path;
  explicit sql_dir(const std::string& label) {
    path = std::filesystem::temp_directory_path() / ("caudal-migrations-" + label + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~sql_dir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
};

size_t sql_files_in_repo() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(CAUDAL_SQL_DIR))
    if (e.path().extension() == ".sql")
      ++n;
  return n;
}

}  // namespace

TEST_CASE("concurrent migrate() applies each file exactly once; a re-run applies nothing") {
  test_database db("migrate", /*migrate=*/false);
  constexpr int nodes = 6;
  // Slow the first file down so the others really wait on the lock while it runs.
  sql_dir dir("concurrent");
  dir.write("0001_first.sql", "SELECT pg_sleep(0.3); CREATE TABLE first_table (k int);");
  dir.write("0002_second.sql", "CREATE TABLE second_table (k int); INSERT INTO second_table VALUES (1);");
  dir.write("0010_third.sql", "INSERT INTO second_table VALUES (2);");
  dir.write("README.md", "not a migration");
  dir.write("0003-bad-name.sql", "SELECT broken");

  std::vector<std::unique_ptr<storage::pg_connection>> conns;
  for (int i = 0; i < nodes; ++i)
    conns.push_back(db.connect("caudal-migrate-" + std::to_string(i)));
  std::atomic<int> applied_total{0};
  std::atomic<int> failures{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < nodes; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load())
        std::this_thread::yield();
      auto r = storage::migrate(*conns[static_cast<size_t>(i)], dir.path.string());
      if (r.ok())
        applied_total += r.value();
      else
        ++failures;
    });
  }
  go = true;
  for (auto& t : threads)
    t.join();
  CHECK(failures.load() == 0);
  CHECK(applied_total.load() == 3);
  CHECK(scalar(*conns[0],
               "SELECT string_agg(version::text || ':' || name, ',' ORDER BY version) "
               "FROM schema_migrations") == "1:0001_first.sql,2:0002_second.sql,10:0010_third.sql");
  CHECK(scalar(*conns[0], "SELECT string_agg(k::text, ',' ORDER BY k) FROM second_table") == "1,2");
  CHECK(scalar(*conns[0], "SELECT count(*) FROM schema_migrations WHERE applied_at IS NOT NULL") == "3");

  auto again = storage::migrate(*conns[1], dir.path.string());
  REQUIRE(again.ok());
  CHECK(again.value() == 0);
  // The advisory lock is released: another session can take it at once.
  CHECK(scalar(*conns[2], "SELECT pg_try_advisory_lock(108936652956012)") == "t");
}

TEST_CASE("the repository's migrations apply once and are idempotent") {
  test_database db("repo_sql", /*migrate=*/false);
  auto a = db.connect("caudal-migrate-a");
  auto b = db.connect("caudal-migrate-b");
  std::atomic<int> total{0};
  std::thread other([&] {
    auto r = storage::migrate(*b, CAUDAL_SQL_DIR);
    if (r.ok())
      total += r.value();
  });
  auto r = storage::migrate(*a, CAUDAL_SQL_DIR);
  other.join();
  REQUIRE_MESSAGE(r.ok(), why(r));
  total += r.value();
  CHECK(total.load() == static_cast<int>(sql_files_in_repo()));
  CHECK(scalar(*a, "SELECT count(*) FROM schema_migrations") == std::to_string(sql_files_in_repo()));
  CHECK(scalar(*a, "SELECT to_regclass('transfers') IS NOT NULL") == "t");
  auto again = storage::migrate(*a, CAUDAL_SQL_DIR);
  REQUIRE(again.ok());
  CHECK(again.value() == 0);
}

TEST_CASE("a failing migration is rolled back, not recorded, and stops the later ones") {
  test_database db("migrate_fail", /*migrate=*/false);
  auto c = db.connect();
  sql_dir dir("failing");
  dir.write("0001_ok.sql", "CREATE TABLE ok_table (k int);");
  dir.write("0002_broken.sql", "CREATE TABLE half_table (k int); SELECT no_such_function();");
  dir.write("0003_later.sql", "CREATE TABLE later_table (k int);");
  auto r = storage::migrate(*c, dir.path.string());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().detail.find("0002_broken.sql") != std::string::npos);
  CHECK(scalar(*c, "SELECT string_agg(version::text, ',') FROM schema_migrations") == "1");
  CHECK(scalar(*c, "SELECT to_regclass('half_table') IS NULL") == "t");
  CHECK(scalar(*c, "SELECT to_regclass('later_table') IS NULL") == "t");
  // Fixed file: the next run applies it and the later one.
  dir.write("0002_broken.sql", "CREATE TABLE half_table (k int);");
  auto fixed = storage::migrate(*c, dir.path.string());
  REQUIRE_MESSAGE(fixed.ok(), why(fixed));
  CHECK(fixed.value() == 2);
}

TEST_CASE("migrate() refuses a folder without migrations and duplicate versions") {
  test_database db("migrate_dir", /*migrate=*/false);
  auto c = db.connect();
  sql_dir empty("empty");
  CHECK_FALSE(storage::migrate(*c, empty.path.string()).ok());
  CHECK_FALSE(storage::migrate(*c, "/nonexistent/caudal/sql").ok());
  sql_dir dup("dup");
  dup.write("0001_a.sql", "SELECT 1;");
  dup.write("0001_b.sql", "SELECT 1;");
  CHECK_FALSE(storage::migrate(*c, dup.path.string()).ok());
}
