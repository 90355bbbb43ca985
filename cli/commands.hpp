#pragma once
// The commands of `caudal` (issue 2, point 8), behind the CLI11 definitions of app.cpp. Each returns the
// process exit code (cli/parse.hpp) after printing its one JSON object (--json) or its short text.
//
// Credentials: `--tenant T` (an id or a name) authenticates with that tenant's client from the client file
// (client/client_file.hpp) unless --client-id is given; `tenant create`, `tenant list` and `verify` use the
// operator's (the file's client_id/client_secret, or --client-id/--client-secret).
// Runs on the calling thread; one connection per command.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "actors/ledger/types.hpp"
#include "base/result.hpp"
#include "client/client_file.hpp"
#include "client/connection.hpp"

namespace caudal::cli {

struct global_options {
  std::string server;  // empty: the client file's, else 127.0.0.1:7400
  std::string client_id;
  std::string client_secret;
  std::string ca_file;    // empty: the client file's
  bool insecure = false;  // plain TCP (a node started with --insecure)
  std::string access_token;         // set: sessions are opened from this token (no client id or secret)
  std::vector<std::string> scopes;  // scopes asked for at authentication (empty: all the client holds)
  bool json = false;
  uint32_t timeout_ms = 30000;
};

// What every command needs. The client file is read once, before the command runs.
struct context {
  global_options global;
  std::ostream& out;
  std::ostream& err;
  std::optional<std::filesystem::path> file_path;
  client::client_file file;
  std::string file_error;  // non-empty: the file exists but cannot be used (said when it is needed)

  context(global_options g, std::ostream& o, std::ostream& e) : global(std::move(g)), out(o), err(e) {}
  // Locates and reads the client file.
  void load_file();
};

// Option values as typed (numbers as text: they are parsed, with usage errors, by the builders below).
struct tenant_create_args {
  std::string name;
  std::string country;
};

struct account_create_args {
  std::string tenant;
  std::string file;  // --file F: a JSON array of items; excludes the item options
  std::string id, ledger, code;
  std::vector<std::string> flags;
  std::string user_data_128, user_data_64, user_data_32;
};

struct transfer_create_args {
  std::string tenant;
  std::string file;
  std::string id, debit, credit, amount, ledger, code;
  std::vector<std::string> flags;
  bool pending = false, linked = false, balancing_debit = false, balancing_credit = false;
  std::string post, void_;  // --post P / --void P: post or void pending transfer P
  std::string pending_id, timeout;
  std::string user_data_128, user_data_64, user_data_32;
};

struct lookup_args {
  std::string tenant;
  std::vector<std::string> ids;
};

struct query_args {
  std::string tenant;
  std::string id;
  std::string limit = "100";
  std::string after;                                       // timestamp_min = after + 1
  bool debits = false, credits = false, reversed = false;  // neither debits nor credits: both
};

// Clients, keys and the audit table (operator credentials).
struct client_create_args {
  std::string tenant;                // id or name; empty with operator_client
  bool operator_client = false;      // an operator client (scope admin) instead of a tenant's
  std::vector<std::string> scopes;   // ledger:read, ledger:write, onboarding, admin
};
struct client_id_args {
  std::string id;
};
struct audit_args {
  std::string since;          // ms since the epoch, an ISO time "2026-11-28T18:00:00Z", or "15m" ago (s/m/h/d)
  std::string limit = "1000";
};

// `--since`: milliseconds since the epoch at `now_ms`, or a usage error.
result<int64_t> parse_since(const std::string& text, int64_t now_ms);

// Pure builders (unit-tested): the batch or filter the options describe, or a usage error.
result<std::vector<ledger::account>> accounts_from_args(const account_create_args& a);
result<std::vector<ledger::transfer>> transfers_from_args(const transfer_create_args& a);
result<std::vector<account_id>> ids_from_args(const std::vector<std::string>& ids);
result<ledger::account_filter> filter_from_args(const query_args& a);

int tenant_create(context& ctx, const tenant_create_args& a);
int tenant_list(context& ctx);
int account_create(context& ctx, const account_create_args& a);
int account_get(context& ctx, const lookup_args& a);
int account_transfers(context& ctx, const query_args& a);
int account_balances(context& ctx, const query_args& a);
int transfer_create(context& ctx, const transfer_create_args& a);
int transfer_get(context& ctx, const lookup_args& a);
int verify(context& ctx, const std::vector<std::string>& tenants);
int client_create(context& ctx, const client_create_args& a);
int client_rotate_secret(context& ctx, const client_id_args& a);
int client_revoke(context& ctx, const client_id_args& a);
int client_list(context& ctx);
int keys_rotate(context& ctx);
int audit(context& ctx, const audit_args& a);
// Authenticates (as the tenant's client, or the operator when `tenant` is empty) and prints the access token.
int token(context& ctx, const std::string& tenant);
int cluster_status(context& ctx);

// For commands defined in other files (bench). Each prints what went wrong and returns the exit code;
// exit_processed means it worked.
// The options of a session at the command's server (--server, else the client file's) with these credentials
// and the TLS settings (--ca-file/--insecure, else the client file's); no access token.
client::options session_options(const context& ctx, std::string client_id, std::string client_secret);
// An operator session in `conn`, with the operator's credentials (flags, else the client file).
int open_operator_session(context& ctx, client::connection& conn);
// A request-level failure, printed as every command prints it.
int report_failure(context& ctx, const failure& f);
// A usage error (with the --help hint).
int report_usage(context& ctx, const failure& f);

}  // namespace caudal::cli
