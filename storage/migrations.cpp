#include "storage/migrations.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

namespace caudal::storage {

namespace {

// pg_advisory_lock key of migrations ("caudal" in ASCII); the same in every process of every version.
constexpr const char* lock_sql = "SELECT pg_advisory_lock(108936652956012)";
constexpr const char* unlock_sql = "SELECT pg_advisory_unlock(108936652956012)";

constexpr const char* create_table_sql =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "  version    integer PRIMARY KEY,"
    "  name       text NOT NULL,"
    "  applied_at timestamptz NOT NULL DEFAULT now())";

struct migration_file {
  int version = 0;
  std::string name;  // file name, e.g. 0001_ledger.sql
  std::filesystem::path path;
};

// NNNN_<name>.sql: four digits, an underscore, a name.
bool parse_name(const std::string& file, int& version) {
  constexpr std::string_view suffix = ".sql";
  if (file.size() < 4 + 1 + 1 + suffix.size() || file[4] != '_')
    return false;
  if (file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  version = 0;
  for (int i = 0; i < 4; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(file[static_cast<size_t>(i)])))
      return false;
    version = version * 10 + (file[static_cast<size_t>(i)] - '0');
  }
  return true;
}

result<std::vector<migration_file>> list_files(const std::string& sql_dir) {
  std::error_code ec;
  std::vector<migration_file> files;
  for (const auto& entry : std::filesystem::directory_iterator(sql_dir, ec)) {
    if (!entry.is_regular_file())
      continue;
    migration_file f;
    f.name = entry.path().filename().string();
    f.path = entry.path();
    if (parse_name(f.name, f.version))
      files.push_back(std::move(f));
  }
  if (ec)
    return result<std::vector<migration_file>>(errc::internal,
                                               "migrations: cannot list " + sql_dir + ": " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const migration_file& a, const migration_file& b) { return a.version < b.version; });
  for (size_t i = 1; i < files.size(); ++i)
    if (files[i].version == files[i - 1].version)
      return result<std::vector<migration_file>>(
          errc::internal, "migrations: two files with version " + std::to_string(files[i].version));
  return files;
}

result<std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in)
    return result<std::string>(errc::internal, "migrations: cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Applies one file and records it, in one transaction.
result<void> apply(pg_connection& conn, const migration_file& f) {
  auto sql = read_file(f.path);
  if (!sql.ok())
    return sql.error();
  if (auto r = conn.exec("BEGIN"); !r.ok())
    return r;
  auto body = conn.exec(sql.value());
  if (body.ok()) {
    const std::string version = std::to_string(f.version);
    auto rec =
        conn.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", {version.c_str(), f.name.c_str()});
    if (rec.ok()) {
      if (auto c = conn.exec("COMMIT"); !c.ok())
        return c;
      return {};
    }
    body = rec.error();
  }
  (void)conn.exec("ROLLBACK");
  failure f2 = body.error();
  f2.detail = "migration " + f.name + ": " + f2.detail;
  return f2;
}

result<int> migrate_locked(pg_connection& conn, const std::vector<migration_file>& files) {
  if (auto r = conn.exec(create_table_sql); !r.ok())
    return r.error();
  auto applied_rows = conn.query("SELECT version FROM schema_migrations", {});
  if (!applied_rows.ok())
    return applied_rows.error();
  std::set<int> applied;
  for (int i = 0; i < applied_rows->size(); ++i)
    applied.insert(std::atoi(applied_rows->text(i, 0)));
  int count = 0;
  for (const auto& f : files) {
    if (applied.count(f.version) != 0)
      continue;
    if (auto r = apply(conn, f); !r.ok())
      return r.error();
    ++count;
  }
  return count;
}

}  // namespace

result<int> migrate(pg_connection& conn, const std::string& sql_dir) {
  auto files = list_files(sql_dir);
  if (!files.ok())
    return files.error();
  if (files->empty())
    return result<int>(errc::internal, "migrations: no NNNN_*.sql file in " + sql_dir);
  // Session-level lock: held across the per-file transactions, released by unlock or by the session's end.
  auto locked = conn.query(lock_sql, {});
  if (!locked.ok())
    return locked.error();
  auto applied = migrate_locked(conn, files.value());
  auto unlocked = conn.query(unlock_sql, {});
  if (!applied.ok())
    return applied;
  if (!unlocked.ok())
    return unlocked.error();
  return applied;
}

}  // namespace caudal::storage
