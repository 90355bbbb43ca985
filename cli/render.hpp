#pragma once
// What `caudal` prints: the JSON objects of `--json` and the short human-readable forms. Pure functions of
// their input (tested in tests/unit/cli_render_test.cpp).
//
// JSON rules: one object per command; ids, amounts, timestamps and 64/128-bit user data as decimal
// strings; ledger, code, timeout, user_data_32 and counts as numbers; flags as lists of names; result codes
// as snake_case names (ledger::result_name); secrets never, except the new tenant's client_secret.
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"
#include "base/errc.hpp"
#include "client/connection.hpp"

namespace caudal::cli {

using json = nlohmann::json;

// The snake_case name; a code this build does not know (a newer server) prints as "unknown_<n>".
std::string result_text(ledger::create_account_result r);
std::string result_text(ledger::create_transfer_result r);

json account_json(const ledger::account& a);
json transfer_json(const ledger::transfer& t);
json balance_json(const ledger::account_balance& b);
json tenant_json(const client::tenant_info& t);

// {"results": [{"index": 0, "result": "ok"}, ...]}: every item, in order.
json results_json(const client::account_results& r);
json results_json(const client::transfer_results& r);
// {"accounts": [...]}, {"transfers": [...]}.
json accounts_json(const std::vector<ledger::account>& accounts);
json transfers_json(const std::vector<ledger::transfer>& transfers);
// Pages of account transfers / balances: {"transfers"|"balances": [...], "next_after": "<last timestamp>"}
// (next_after is null when the page is empty: there is nothing after it yet).
json transfer_page_json(const std::vector<ledger::transfer>& transfers);
json balance_page_json(const std::vector<ledger::account_balance>& balances);
// {"tenant_id", "client_id", "client_secret"} of `tenant create`.
json tenant_created_json(const client::new_tenant& t);
// {"tenants": [{"id", "name", "country", "created_at_ms"}]}.
json tenants_json(const std::vector<client::tenant_info>& tenants);
// {"ok", "violations": [...], "counts": {"tenants", "accounts", "transfers"}}.
json verify_json(const client::verify_report& r);
// {"id", "incarnation", "rpc_address", "cluster_address", "metrics_address", "region", "state", "shards",
//  "heartbeat_age_ms"}: one member, as in cluster status.
json cluster_node_json(const client::cluster_node_status& n);
// {"nodes": [{"id", "incarnation", "rpc_address", "cluster_address", "metrics_address", "region", "state",
//  "shards", "heartbeat_age_ms"}], "shards": {"count", "owned", "unowned"}}.
json cluster_status_json(const client::cluster_status& s);
// {"error": "<errc name>", "retryable": bool}.
json error_json(errc e);

// The text of a JSON object as printed: one line; invalid UTF-8 from the server is replaced, never fatal.
std::string dump(const json& j);

// Human-readable forms.
void print_results(std::ostream& out, const client::account_results& r, const std::vector<ledger::account>& items);
void print_results(std::ostream& out, const client::transfer_results& r, const std::vector<ledger::transfer>& items);
void print_accounts(std::ostream& out, const std::vector<ledger::account>& accounts);
void print_transfers(std::ostream& out, const std::vector<ledger::transfer>& transfers);
void print_balances(std::ostream& out, const std::vector<ledger::account_balance>& balances);
void print_tenants(std::ostream& out, const std::vector<client::tenant_info>& tenants);
void print_verify(std::ostream& out, const client::verify_report& r);
void print_cluster_status(std::ostream& out, const client::cluster_status& s);
// Columns padded to their widest cell, two spaces apart.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

}  // namespace caudal::cli
