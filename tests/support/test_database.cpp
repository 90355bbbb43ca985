#include "tests/support/test_database.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <random>

#include "storage/migrations.hpp"
#include "tests/support/test_env.hpp"

namespace caudal::test {

namespace {

std::string unique_name(const std::string& label) {
  static std::atomic<unsigned> counter{0};
  std::string clean;
  for (char ch : label.substr(0, 20))
    clean.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(ch)) : '_');
  std::random_device rd;
  // caudal_test_<label>_<pid>_<n>_<random>: unique across processes and runs, under 63 bytes.
  return "caudal_test_" + clean + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(rd() % 1000000);
}

std::unique_ptr<storage::pg_connection> open_admin(const std::string& url) {
  auto c = storage::pg_connection::open(url, "caudal-test-admin");
  if (!c.ok())
    return nullptr;
  return std::move(c.value());
}

// Terminates the database's connections and drops it. Returns the failure text, empty on success.
std::string drop(const std::string& admin_url, const std::string& name) {
  auto admin = open_admin(admin_url);
  if (admin == nullptr)
    return "cannot connect to the admin database";
  auto killed = admin->query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      {name.c_str()});
  if (!killed.ok())
    return killed.error().detail;
  auto dropped = admin->exec("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
  return dropped.ok() ? std::string() : dropped.error().detail;
}

}  // namespace

std::string test_database::with_database(const std::string& url, const std::string& database) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos)
    return url + " dbname=" + database;  // keyword/value form: the last dbname wins
  const size_t authority = scheme + 3;
  const size_t path = url.find_first_of("/?", authority);
  if (path == std::string::npos)
    return url + "/" + database;
  if (url[path] == '?')
    return url.substr(0, path) + "/" + database + url.substr(path);
  const size_t query = url.find('?', path);
  return url.substr(0, path) + "/" + database + (query == std::string::npos ? std::string() : url.substr(query));
}

test_database::test_database(const std::string& label, bool migrate)
    : admin_url_(pg_admin_url()), name_(unique_name(label)), url_(with_database(admin_url_, name_)) {
  {
    auto admin = open_admin(admin_url_);
    if (admin == nullptr)
      FAIL("test_database: cannot connect to CAUDAL_TEST_PG_URL");
    auto created = admin->exec("CREATE DATABASE \"" + name_ + "\"");
    if (!created.ok())
      FAIL("test_database: CREATE DATABASE failed: " << created.error().detail);
  }
  if (!migrate)
    return;
  std::string error;
  {
    auto c = storage::pg_connection::open(url_, "caudal-test-migrate");
    if (!c.ok()) {
      error = c.error().detail;
    } else {
      auto applied = storage::migrate(*c.value(), CAUDAL_SQL_DIR);
      if (!applied.ok())
        error = applied.error().detail;
    }
  }
  if (!error.empty()) {
    drop(admin_url_, name_);  // the destructor will not run
    FAIL("test_database: migrations failed: " << error);
  }
}

test_database::~test_database() {
  const std::string error = drop(admin_url_, name_);
  if (!error.empty())
    std::fprintf(stderr, "test_database: could not drop %s: %s\n", name_.c_str(), error.c_str());
}

std::unique_ptr<storage::pg_connection> test_database::connect(const std::string& application_name) const {
  auto c = storage::pg_connection::open(url_, application_name);
  if (!c.ok())
    FAIL("test_database: cannot connect to " << name_ << ": " << c.error().detail);
  return std::move(c.value());
}

}  // namespace caudal::test
