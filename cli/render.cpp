// What `caudal` prints (see render.hpp).
#include "cli/render.hpp"

#include <algorithm>
#include <ctime>

#include "cli/parse.hpp"

namespace caudal::cli {

namespace {

std::string dec(const u128& v) {
  return to_decimal(v);
}
std::string dec(uint64_t v) {
  return std::to_string(v);
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i)
      out += sep;
    out += parts[i];
  }
  return out;
}

std::string flags_text(flag_kind kind, uint16_t flags) {
  auto names = flag_names(kind, flags);
  return names.empty() ? "-" : join(names, ",");
}

// Milliseconds since the epoch as UTC "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_text(int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (!gmtime_r(&s, &tm))
    return std::to_string(ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

template <class Code>
std::string named_result(Code r, uint16_t max) {
  const auto v = static_cast<uint16_t>(r);
  if (v > max)
    return "unknown_" + std::to_string(v);
  return std::string(ledger::result_name(r));
}

template <class Results>
json results_list(const Results& results) {
  json list = json::array();
  for (size_t i = 0; i < results.size(); ++i)
    list.push_back({{"index", i}, {"result", result_text(results[i])}});
  return json{{"results", std::move(list)}};
}

}  // namespace

std::string result_text(ledger::create_account_result r) {
  return named_result(r, ledger::create_account_result_max);
}

std::string result_text(ledger::create_transfer_result r) {
  return named_result(r, ledger::create_transfer_result_max);
}

json account_json(const ledger::account& a) {
  return json{
      {"id", dec(a.id.value)},
      {"ledger", a.ledger},
      {"code", a.code},
      {"flags", flag_names(flag_kind::account, a.flags)},
      {"debits_pending", dec(a.debits_pending)},
      {"debits_posted", dec(a.debits_posted)},
      {"credits_pending", dec(a.credits_pending)},
      {"credits_posted", dec(a.credits_posted)},
      {"user_data_128", dec(a.user_data_128)},
      {"user_data_64", dec(a.user_data_64)},
      {"user_data_32", a.user_data_32},
      {"timestamp", dec(a.timestamp)},
  };
}

json transfer_json(const ledger::transfer& t) {
  return json{
      {"id", dec(t.id.value)},
      {"debit_account_id", dec(t.debit_account_id.value)},
      {"credit_account_id", dec(t.credit_account_id.value)},
      {"amount", dec(t.amount)},
      {"pending_id", dec(t.pending_id.value)},
      {"ledger", t.ledger},
      {"code", t.code},
      {"flags", flag_names(flag_kind::transfer, t.flags)},
      {"timeout", t.timeout},
      {"user_data_128", dec(t.user_data_128)},
      {"user_data_64", dec(t.user_data_64)},
      {"user_data_32", t.user_data_32},
      {"timestamp", dec(t.timestamp)},
  };
}

json balance_json(const ledger::account_balance& b) {
  return json{
      {"timestamp", dec(b.timestamp)},           {"debits_pending", dec(b.debits_pending)},
      {"debits_posted", dec(b.debits_posted)},   {"credits_pending", dec(b.credits_pending)},
      {"credits_posted", dec(b.credits_posted)},
  };
}

json tenant_json(const client::tenant_info& t) {
  return json{
      {"id", dec(t.id.value)},
      {"name", t.name},
      {"country", t.country},
      {"created_at_ms", std::to_string(t.created_at_ms)},
  };
}

json results_json(const client::account_results& r) {
  return results_list(r);
}
json results_json(const client::transfer_results& r) {
  return results_list(r);
}

json accounts_json(const std::vector<ledger::account>& accounts) {
  json list = json::array();
  for (const auto& a : accounts)
    list.push_back(account_json(a));
  return json{{"accounts", std::move(list)}};
}

json transfers_json(const std::vector<ledger::transfer>& transfers) {
  json list = json::array();
  for (const auto& t : transfers)
    list.push_back(transfer_json(t));
  return json{{"transfers", std::move(list)}};
}

json transfer_page_json(const std::vector<ledger::transfer>& transfers) {
  json j = transfers_json(transfers);
  j["next_after"] = transfers.empty() ? json(nullptr) : json(dec(transfers.back().timestamp));
  return j;
}

json balance_page_json(const std::vector<ledger::account_balance>& balances) {
  json list = json::array();
  for (const auto& b : balances)
    list.push_back(balance_json(b));
  json j{{"balances", std::move(list)}};
  j["next_after"] = balances.empty() ? json(nullptr) : json(dec(balances.back().timestamp));
  return j;
}

json tenant_created_json(const client::new_tenant& t) {
  return json{
      {"tenant_id", dec(t.tenant.id.value)},
      {"client_id", t.client_id},
      {"client_secret", t.client_secret},
  };
}

json tenants_json(const std::vector<client::tenant_info>& tenants) {
  json list = json::array();
  for (const auto& t : tenants)
    list.push_back(tenant_json(t));
  return json{{"tenants", std::move(list)}};
}

json verify_json(const client::verify_report& r) {
  return json{
      {"ok", r.ok},
      {"violations", r.violations},
      {"counts",
       {{"tenants", r.tenants_checked}, {"accounts", r.accounts_checked}, {"transfers", r.transfers_checked}}},
  };
}

json cluster_node_json(const client::cluster_node_status& n) {
  return json{{"id", n.id},
              {"incarnation", n.incarnation},
              {"rpc_address", n.rpc_address},
              {"cluster_address", n.cluster_address},
              {"metrics_address", n.metrics_address},
              {"region", n.region},
              {"state", n.state},
              {"shards", n.shards},
              {"heartbeat_age_ms", n.heartbeat_age_ms}};
}

json cluster_status_json(const client::cluster_status& s) {
  json nodes = json::array();
  for (const auto& n : s.nodes)
    nodes.push_back(cluster_node_json(n));
  return json{{"nodes", std::move(nodes)},
              {"shards", {{"count", s.shard_count}, {"owned", s.shards_owned}, {"unowned", s.shards_unowned}}}};
}

json error_json(errc e) {
  return json{{"error", std::string(errc_name(e))}, {"retryable", errc_retryable(e)}};
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c)
    width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t c = 0; c < cells.size() && c < width.size(); ++c) {
      text += cells[c];
      if (c + 1 < cells.size())
        text += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    out << text << '\n';
  };
  line(header);
  for (const auto& row : rows)
    line(row);
}

void print_results(std::ostream& out, const client::account_results& r, const std::vector<ledger::account>& items) {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < r.size(); ++i) {
    rows.push_back({std::to_string(i), i < items.size() ? dec(items[i].id.value) : "?", result_text(r[i])});
  }
  print_table(out, {"INDEX", "ID", "RESULT"}, rows);
}

void print_results(std::ostream& out, const client::transfer_results& r, const std::vector<ledger::transfer>& items) {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < r.size(); ++i) {
    rows.push_back({std::to_string(i), i < items.size() ? dec(items[i].id.value) : "?", result_text(r[i])});
  }
  print_table(out, {"INDEX", "ID", "RESULT"}, rows);
}

void print_accounts(std::ostream& out, const std::vector<ledger::account>& accounts) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : accounts) {
    rows.push_back({dec(a.id.value), std::to_string(a.ledger), std::to_string(a.code),
                    flags_text(flag_kind::account, a.flags), dec(a.debits_pending), dec(a.debits_posted),
                    dec(a.credits_pending), dec(a.credits_posted)});
  }
  print_table(out,
              {"ID", "LEDGER", "CODE", "FLAGS", "DEBITS_PENDING", "DEBITS_POSTED", "CREDITS_PENDING", "CREDITS_POSTED"},
              rows);
}

void print_transfers(std::ostream& out, const std::vector<ledger::transfer>& transfers) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : transfers) {
    rows.push_back({dec(t.id.value), dec(t.debit_account_id.value), dec(t.credit_account_id.value), dec(t.amount),
                    std::to_string(t.ledger), std::to_string(t.code), flags_text(flag_kind::transfer, t.flags),
                    t.pending_id.value.is_zero() ? "-" : dec(t.pending_id.value), dec(t.timestamp)});
  }
  print_table(out, {"ID", "DEBIT", "CREDIT", "AMOUNT", "LEDGER", "CODE", "FLAGS", "PENDING_ID", "TIMESTAMP"}, rows);
}

void print_balances(std::ostream& out, const std::vector<ledger::account_balance>& balances) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : balances) {
    rows.push_back(
        {dec(b.timestamp), dec(b.debits_pending), dec(b.debits_posted), dec(b.credits_pending), dec(b.credits_posted)});
  }
  print_table(out, {"TIMESTAMP", "DEBITS_PENDING", "DEBITS_POSTED", "CREDITS_PENDING", "CREDITS_POSTED"}, rows);
}

void print_tenants(std::ostream& out, const std::vector<client::tenant_info>& tenants) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : tenants) {
    rows.push_back({dec(t.id.value), t.name, t.country, utc_text(t.created_at_ms)});
  }
  print_table(out, {"ID", "NAME", "COUNTRY", "CREATED"}, rows);
}

void print_verify(std::ostream& out, const client::verify_report& r) {
  out << (r.ok ? "ok" : "VIOLATIONS FOUND") << ": checked " << r.tenants_checked << " tenants, " << r.accounts_checked
      << " accounts, " << r.transfers_checked << " transfers\n";
  for (const auto& v : r.violations)
    out << "  " << v << '\n';
}

void print_cluster_status(std::ostream& out, const client::cluster_status& s) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : s.nodes)
    rows.push_back({n.id, std::to_string(n.incarnation), n.state, n.region, std::to_string(n.shards),
                    std::to_string(n.heartbeat_age_ms), n.rpc_address, n.metrics_address});
  print_table(out, {"NODE", "INCARNATION", "STATE", "REGION", "SHARDS", "HEARTBEAT_AGE_MS", "RPC", "METRICS"}, rows);
  out << "shards: " << s.shard_count << ", owned " << s.shards_owned << ", unowned " << s.shards_unowned << '\n';
}

}  // namespace caudal::cli
