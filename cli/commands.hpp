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

namespace caudal::cli {

struct global_options {
  std::string server;  // empty: the client file's, else 127.0.0.1:7400
  std::string client_id;
  std::string client_secret;
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
int verify(context& ctx);
int cluster_status(context& ctx);

}  // namespace caudal::cli
