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
  // `session_settings`: more SET statements for this connection (e.g. storage::writer_session_settings),
  // applied after ours on every (re)connect.
  static result<std::unique_ptr<pg_connection>> open(const std::string& url, const std::string& application_name,
                                                     const std::string& session_settings = {});
  // The same, for a thread that must stop promptly (the revocation listener): connects without blocking
  // (libpq's PQconnectStartParams/PQconnectPoll) and gives up, with database_unavailable, as soon as
  // `interrupt_fd` is readable or after the connect timeout (10 s, as open()'s). The fd is only polled,
  // never read: the caller owns it.
  static result<std::unique_ptr<pg_connection>> open_interruptible(const std::string& url,
                                                                   const std::string& application_name,
                                                                   int interrupt_fd);
  ~pg_connection();
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  // False once the server went away (or announced it is ending the session); call reconnect().
  bool healthy() const;
  // Reads, without blocking, whatever the server sent while we were not waiting for an answer (e.g. the
  // FATAL of pg_terminate_backend on an idle session) and returns healthy(). A cheap check before a step
  // whose failure would be ambiguous, such as COMMIT.
  bool check_alive();
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
  // Same with binary parameters where asked: for each parameter its bytes, its length and its format
  // (0 text, NUL-terminated; 1 binary, e.g. codec::array_binary). The results are text.
  struct param {
    const char* data;  // nullptr = NULL
    int length;
    int format;
  };
  result<pg_rows> query_prepared_binary(const std::string& name, const std::string& sql,
                                        const std::vector<param>& params);
  // Several prepared statements sent together and answered in one round trip (libpq's pipeline mode), in
  // one implicit transaction. The results, in order, or the first statement's failure (the statements
  // after a failed one are not run).
  struct pipelined {
    std::string name;
    const std::string* sql;
    std::vector<param> params;
  };
  result<std::vector<pg_rows>> query_pipeline(const std::vector<pipelined>& statements);
  // COPY ... FROM STDIN with a text-format payload (rows separated by '\n', columns by '\t'), or, when
  // copy_sql says (FORMAT binary), a binary COPY stream (see codec::copy_binary). Sent in 1 MiB pieces.
  result<void> copy_in(const std::string& copy_sql, const std::string& payload);

  PGconn* raw() { return conn_; }

  // The SQLSTATE ("23505") and constraint name of the last failed statement, empty when it had none
  // (e.g. the connection broke). Lets callers tell a unique violation from other failures.
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  const std::string& last_constraint() const { return last_constraint_; }

  // A failure value for a PGresult that is not what was expected (nullptr: none came back): database_unavailable
  // when the connection is gone, internal otherwise; the detail is the server's primary message and SQLSTATE.
  // Records last_sqlstate()/last_constraint(). For code that drives libpq directly through raw().
  failure failure_from(const PGresult* r, const char* what);

 private:
  pg_connection(PGconn* c, std::string url, std::string application_name, std::string session_settings);
  result<void> prepare_if_needed(const std::string& name, const std::string& sql);

  PGconn* conn_;
  std::string url_;
  std::string application_name_;
  std::string session_settings_;
  std::vector<std::string> prepared_;
  std::string last_sqlstate_;
  std::string last_constraint_;
  bool server_ended_ = false;  // a FATAL arrived outside a query (libpq hands it to the notice receiver)

  static void on_notice(void* self, const PGresult* notice);
  void install_notice_receiver();
};

}  // namespace caudal::storage
