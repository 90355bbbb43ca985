#include "storage/pg_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

namespace caudal::storage {

namespace {

// Session settings of every connection: durable commits (never weakened by a server default), a generic
// plan from the first execution of a prepared statement (DESIGN 11: custom plans of UPDATE..FROM unnest
// with a large array literal go bad), and no NOTICE chatter (e.g. "already exists, skipping") on stderr.
constexpr const char* session_setup =
    "SET synchronous_commit = on; SET plan_cache_mode = force_generic_plan; SET client_min_messages = warning";

// COPY payloads go out in pieces of this size, so libpq never copies a whole group commit into its buffer.
constexpr size_t copy_chunk_bytes = 1 << 20;

std::string trimmed(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

// Later keywords win: the URL may override the defaults before it; our application_name always wins.
// TCP keepalives notice a vanished server host within ~25 s instead of the OS default of hours, so a
// writer blocked in COMMIT gets commit_outcome_unknown rather than hanging (no effect on Unix sockets).
constexpr const char* connect_keys[] = {"connect_timeout",
                                        "keepalives_idle",
                                        "keepalives_interval",
                                        "keepalives_count",
                                        "dbname",
                                        "application_name",
                                        nullptr};
constexpr int connect_timeout_s = 10;

struct connect_values {
  const char* values[7];  // connect_timeout's "10" is connect_timeout_s
  connect_values(const std::string& url, const std::string& application_name)
      : values{"10", "10", "5", "3", url.c_str(), application_name.c_str(), nullptr} {}
};

PGconn* connect_raw(const std::string& url, const std::string& application_name) {
  connect_values v(url, application_name);
  return PQconnectdbParams(connect_keys, v.values, /*expand_dbname=*/1);
}

// After a successful connect: the session settings. Failures: database_unavailable (the detail never
// holds the URL, which may carry a password; libpq's messages name host, port and user only).
result<void> setup_session(PGconn* c, const std::string& more_settings) {
  if (c == nullptr)
    return result<void>(errc::database_unavailable, "out of memory creating a connection");
  if (PQstatus(c) != CONNECTION_OK)
    return result<void>(errc::database_unavailable, "connect: " + trimmed(PQerrorMessage(c)));
  const std::string setup =
      more_settings.empty() ? std::string(session_setup) : std::string(session_setup) + "; " + more_settings;
  PGresult* r = PQexec(c, setup.c_str());
  const bool ok = r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string detail = ok ? std::string() : "session setup: " + trimmed(PQerrorMessage(c));
  PQclear(r);
  if (!ok)
    return result<void>(PQstatus(c) == CONNECTION_OK ? errc::internal : errc::database_unavailable, detail);
  return {};
}

bool ok_status(const PGresult* r) {
  if (r == nullptr)
    return false;
  const auto s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

}  // namespace

pg_connection::pg_connection(PGconn* c, std::string url, std::string application_name, std::string settings)
    : conn_(c),
      url_(std::move(url)),
      application_name_(std::move(application_name)),
      session_settings_(std::move(settings)) {
  install_notice_receiver();
}

void pg_connection::install_notice_receiver() {
  server_ended_ = false;
  if (conn_ != nullptr)
    PQsetNoticeReceiver(conn_, &pg_connection::on_notice, this);
}

// libpq passes errors that arrive while no query runs (a terminated idle session) as notices. A FATAL one
// means the session is over, even before libpq has read the end of the stream: remember it, and keep it off
// stderr (the next call reports it as database_unavailable). Anything else is printed as libpq would.
void pg_connection::on_notice(void* self, const PGresult* notice) {
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity != nullptr && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
    static_cast<pg_connection*>(self)->server_ended_ = true;
    return;
  }
  std::fputs(PQresultErrorMessage(notice), stderr);
}

pg_connection::~pg_connection() {
  if (conn_ != nullptr)
    PQfinish(conn_);
}

result<std::unique_ptr<pg_connection>> pg_connection::open(const std::string& url, const std::string& application_name,
                                                           const std::string& session_settings) {
  PGconn* c = connect_raw(url, application_name);
  auto setup = setup_session(c, session_settings);
  if (!setup.ok()) {
    if (c != nullptr)
      PQfinish(c);
    return setup.error();
  }
  return std::unique_ptr<pg_connection>(new pg_connection(c, url, application_name, session_settings));
}

result<std::unique_ptr<pg_connection>> pg_connection::open_interruptible(const std::string& url,
                                                                         const std::string& application_name,
                                                                         int interrupt_fd) {
  // libpq's documented non-blocking connect: PQconnectPoll until OK or FAILED, waiting each round for what
  // it asked for (readable or writable; "writable" before the first call). libpq does not apply
  // connect_timeout on this path, so the deadline is ours.
  connect_values v(url, application_name);
  PGconn* c = PQconnectStartParams(connect_keys, v.values, /*expand_dbname=*/1);
  auto give_up = [&c](std::string why) -> result<std::unique_ptr<pg_connection>> {
    PQfinish(c);
    return failure{errc::database_unavailable, "connect: " + why};
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(connect_timeout_s);
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (c != nullptr && PQstatus(c) != CONNECTION_BAD && state != PGRES_POLLING_OK && state != PGRES_POLLING_FAILED) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return give_up("timed out after " + std::to_string(connect_timeout_s) + " s");
    // The socket may change between attempts (several hosts or addresses): asked for each round.
    pollfd p[2] = {{PQsocket(c), static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0},
                   {interrupt_fd, POLLIN, 0}};
    const int n = ::poll(p, 2, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR)
      return give_up(std::string("poll: ") + std::strerror(errno));
    if (p[1].revents != 0)
      return give_up("interrupted");
    if (n > 0)
      state = PQconnectPoll(c);
  }
  // OK, or failed: setup_session reports libpq's message (host, port and user at most, never the URL).
  auto setup = setup_session(c, {});
  if (!setup.ok()) {
    if (c != nullptr)
      PQfinish(c);
    return setup.error();
  }
  return std::unique_ptr<pg_connection>(new pg_connection(c, url, application_name, {}));
}

bool pg_connection::healthy() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK && !server_ended_;
}

bool pg_connection::check_alive() {
  // A few rounds: the FATAL message and the end of the stream may come in separate reads.
  for (int round = 0; round < 8 && healthy(); ++round) {
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (p.fd < 0 || ::poll(&p, 1, 0) <= 0)
      break;
    if (PQconsumeInput(conn_) == 0)
      break;
  }
  return healthy();
}

result<void> pg_connection::reconnect() {
  // A fresh connection rather than PQreset: the old backend may still hold an open transaction, and a new
  // session must not inherit anything (prepared statements are per session, so forget them).
  if (conn_ != nullptr)
    PQfinish(conn_);
  prepared_.clear();
  conn_ = connect_raw(url_, application_name_);
  install_notice_receiver();
  return setup_session(conn_, session_settings_);
}

int pg_connection::backend_pid() const {
  return conn_ != nullptr ? PQbackendPID(conn_) : 0;
}

failure pg_connection::failure_from(const PGresult* r, const char* what) {
  last_sqlstate_.clear();
  last_constraint_.clear();
  std::string detail = what;
  if (r != nullptr) {
    if (const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE))
      last_sqlstate_ = state;
    if (const char* constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME))
      last_constraint_ = constraint;
  }
  // The primary message only: DETAIL lines may quote row values (parameters), which stay out of logs.
  const char* primary = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (primary != nullptr) {
    detail += ": ";
    detail += primary;
  } else if (r != nullptr && PQresultStatus(r) != PGRES_FATAL_ERROR && PQresultStatus(r) != PGRES_NONFATAL_ERROR) {
    detail += ": unexpected result status ";
    detail += PQresStatus(PQresultStatus(r));
  } else if (conn_ != nullptr) {
    detail += ": " + trimmed(PQerrorMessage(conn_));
  }
  if (!last_sqlstate_.empty())
    detail += " (SQLSTATE " + last_sqlstate_ + ")";
  const bool gone = !healthy();
  return failure{gone ? errc::database_unavailable : errc::internal, std::move(detail)};
}

result<void> pg_connection::exec(const std::string& sql) {
  if (!healthy())
    return failure_from(nullptr, "exec");
  pg_rows r(PQexec(conn_, sql.c_str()));
  if (!ok_status(r.raw()))
    return failure_from(r.raw(), "exec");
  return {};
}

result<pg_rows> pg_connection::query(const std::string& sql, const std::vector<const char*>& params) {
  if (!healthy())
    return failure_from(nullptr, "query");
  pg_rows r(
      PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, params.data(), nullptr, nullptr, 0));
  if (!ok_status(r.raw()))
    return failure_from(r.raw(), "query");
  return r;
}

result<void> pg_connection::prepare_if_needed(const std::string& name, const std::string& sql) {
  if (std::find(prepared_.begin(), prepared_.end(), name) != prepared_.end())
    return {};
  pg_rows r(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
  if (!ok_status(r.raw()))
    return failure_from(r.raw(), ("prepare " + name).c_str());
  prepared_.push_back(name);
  return {};
}

result<pg_rows> pg_connection::query_prepared(const std::string& name, const std::string& sql,
                                              const std::vector<const char*>& params) {
  if (!healthy())
    return failure_from(nullptr, "query");
  auto prepared = prepare_if_needed(name, sql);
  if (!prepared.ok())
    return prepared.error();
  pg_rows r(PQexecPrepared(conn_, name.c_str(), static_cast<int>(params.size()), params.data(), nullptr, nullptr, 0));
  if (!ok_status(r.raw()))
    return failure_from(r.raw(), ("query " + name).c_str());
  return r;
}

result<pg_rows> pg_connection::query_prepared_binary(const std::string& name, const std::string& sql,
                                                     const std::vector<param>& params) {
  if (!healthy())
    return failure_from(nullptr, "query");
  auto prepared = prepare_if_needed(name, sql);
  if (!prepared.ok())
    return prepared.error();
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  values.reserve(params.size());
  lengths.reserve(params.size());
  formats.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p.data);
    lengths.push_back(p.length);
    formats.push_back(p.format);
  }
  pg_rows r(PQexecPrepared(conn_, name.c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                           formats.data(), 0));
  if (!ok_status(r.raw()))
    return failure_from(r.raw(), ("query " + name).c_str());
  return r;
}

result<std::vector<pg_rows>> pg_connection::query_pipeline(const std::vector<pipelined>& statements) {
  if (!healthy())
    return failure_from(nullptr, "query");
  for (const auto& st : statements) {  // PQprepare cannot run inside pipeline mode
    if (auto prepared = prepare_if_needed(st.name, *st.sql); !prepared.ok())
      return prepared.error();
  }
  if (PQenterPipelineMode(conn_) != 1)
    return failure_from(nullptr, "pipeline");
  bool sent = true;
  for (const auto& st : statements) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const auto& p : st.params) {
      values.push_back(p.data);
      lengths.push_back(p.length);
      formats.push_back(p.format);
    }
    if (PQsendQueryPrepared(conn_, st.name.c_str(), static_cast<int>(st.params.size()), values.data(), lengths.data(),
                            formats.data(), 0) != 1) {
      sent = false;
      break;
    }
  }
  sent = sent && PQpipelineSync(conn_) == 1;
  std::vector<pg_rows> out;
  std::optional<failure> failed;
  if (!sent)
    failed = failure_from(nullptr, "pipeline send");
  // Every statement sent answers one result (TUPLES_OK, an error, or PIPELINE_ABORTED after an error)
  // followed by nullptr; the sync answers PIPELINE_SYNC. All are read so the connection is ready again.
  for (size_t i = 0; sent && i < statements.size(); ++i) {
    pg_rows r(PQgetResult(conn_));
    if (r.raw() == nullptr) {  // the connection broke
      failed = failed ? failed : failure_from(nullptr, "pipeline");
      sent = false;
      break;
    }
    if (!ok_status(r.raw())) {
      if (!failed)
        failed = failure_from(r.raw(), ("query " + statements[i].name).c_str());
    } else {
      out.push_back(std::move(r));
    }
    while (PGresult* end = PQgetResult(conn_))
      PQclear(end);
  }
  if (sent) {
    pg_rows sync(PQgetResult(conn_));
    if (sync.raw() == nullptr || PQresultStatus(sync.raw()) != PGRES_PIPELINE_SYNC)
      failed = failed ? failed : failure_from(sync.raw(), "pipeline sync");
  }
  if (PQexitPipelineMode(conn_) != 1 && !failed)
    failed = failure_from(nullptr, "pipeline end");
  if (failed) {
    // A server that ends the session (restart, pg_terminate_backend) answers the first statement with its
    // FATAL while libpq still holds the connection for good; only reading on shows it gone. Judge by the
    // end state, as a lone statement's failure is judged.
    if (!healthy())
      failed->code = errc::database_unavailable;
    return *failed;
  }
  return out;
}

result<void> pg_connection::copy_in(const std::string& copy_sql, const std::string& payload) {
  if (!healthy())
    return failure_from(nullptr, "copy");
  {
    pg_rows start(PQexec(conn_, copy_sql.c_str()));
    if (start.raw() == nullptr || PQresultStatus(start.raw()) != PGRES_COPY_IN)
      return failure_from(start.raw(), "copy start");
  }
  bool sent = true;
  for (size_t at = 0; at < payload.size() && sent; at += copy_chunk_bytes) {
    const size_t n = std::min(copy_chunk_bytes, payload.size() - at);
    sent = PQputCopyData(conn_, payload.data() + at, static_cast<int>(n)) == 1;
  }
  // On a send failure, end the COPY with an error so the server aborts it; the result below reports it.
  if (PQputCopyEnd(conn_, sent ? nullptr : "client failed to send COPY data") != 1 && !sent)
    return failure_from(nullptr, "copy send");
  // Exactly one result for the COPY, then nullptr. Drain all so the connection is ready for the next call.
  result<void> outcome;
  bool first = true;
  while (PGresult* raw = PQgetResult(conn_)) {
    pg_rows r(raw);
    if (first && PQresultStatus(raw) != PGRES_COMMAND_OK)
      outcome = failure_from(raw, "copy");
    else if (!first && PQresultStatus(raw) == PGRES_COPY_IN)  // cannot happen after PQputCopyEnd; be safe
      break;
    first = false;
  }
  if (first)
    return failure_from(nullptr, "copy");
  if (outcome.ok() && !sent)
    return failure_from(nullptr, "copy send");
  return outcome;
}

}  // namespace caudal::storage
