#pragma once
// One libpq connection. A resource type: owned by exactly one detached actor or thread (libpq calls block,
// so never on a CAF scheduler worker). libpq failures become result<> values here; nothing throws.
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace caudal::storage {

// A query result; frees the PGresult.
class pg_rows {
 public:
  explicit pg_rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  const char* text(int row, int col) const { return PQgetvalue(r_.get(), row, col); }
  int length(int row, int col) const { return PQgetlength(r_.get(), row, col); }
  PGresult* raw() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

class pg_connection {
 public:
  // Connects to `url` (a libpq connection URI) with application_name set (it names our backends in
  // pg_stat_activity, which the fault tests use), synchronous_commit on.
  static result<std::unique_ptr<pg_connection>> open(const std::string& url, const std::string& application_name);
  ~pg_connection();
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  // False once the server went away; call reconnect().
  bool healthy() const;
  result<void> reconnect();
  int backend_pid() const;

  // Statements without results (BEGIN, COMMIT, DDL). Failures: database_unavailable when the connection
  // is gone, internal otherwise (the detail holds the server's message, never parameters).
  result<void> exec(const std::string& sql);
  // Parameterised query, text parameters (nullptr = NULL), text results.
  result<pg_rows> query(const std::string& sql, const std::vector<const char*>& params);
  // Same with a statement prepared once per connection under `name`.
  result<pg_rows> query_prepared(const std::string& name, const std::string& sql,
                                 const std::vector<const char*>& params);
  // COPY ... FROM STDIN with a text-format payload (rows separated by '\n', columns by '\t').
  result<void> copy_in(const std::string& copy_sql, const std::string& payload);

  PGconn* raw() { return conn_; }

 private:
  pg_connection(PGconn* c, std::string url, std::string application_name);
  result<void> prepare_if_needed(const std::string& name, const std::string& sql);

  PGconn* conn_;
  std::string url_;
  std::string application_name_;
  std::vector<std::string> prepared_;
};

}  // namespace caudal::storage
