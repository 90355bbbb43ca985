// The commands of `caudal` (see commands.hpp).
#include "cli/commands.hpp"

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstdio>
#include <ctime>
#include <optional>
#include <utility>

#include "base/limits.hpp"
#include "cli/items_file.hpp"
#include "cli/parse.hpp"
#include "cli/render.hpp"
#include "client/connection.hpp"
#include "security/scopes.hpp"

namespace caudal::cli {

namespace {

constexpr const char* default_server = "127.0.0.1:7400";

// Parses `text` into `out` when given; keeps the first error.
template <class T, class Parse>
bool parse_into(const std::string& text, const char* what, Parse parse, T& out, failure& err) {
  if (text.empty())
    return true;
  auto v = parse(what, text);
  if (!v) {
    err = v.error();
    return false;
  }
  out = v.value();
  return true;
}

int usage(context& ctx, const std::string& message) {
  ctx.err << "caudal: " << message << "\nRun with --help for more information.\n";
  return exit_usage;
}

// A usage error about credentials or the client file (no options to fix: no --help hint).
int setup_error(context& ctx, const std::string& message) {
  ctx.err << "caudal: " << message << '\n';
  return exit_usage;
}

int usage(context& ctx, const failure& f) {
  return usage(ctx, f.detail);
}

std::string file_name(const context& ctx) {
  return ctx.file_path ? ctx.file_path->string() : std::string("the client file");
}

// A request-level failure: {"error", "retryable"} or one line; never a secret.
int request_failed(context& ctx, const failure& f, const std::string& server) {
  if (ctx.global.json) {
    ctx.out << dump(error_json(f.code)) << '\n';
    return exit_failed;
  }
  ctx.err << "caudal: " << errc_name(f.code) << (errc_retryable(f.code) ? " (retryable)" : "");
  switch (f.code) {
    case errc::node_down:
      ctx.err << ": cannot reach the node at " << server;
      if (!f.detail.empty())
        ctx.err << " (" << f.detail << ")";  // e.g. the TLS handshake's reason; local text, no secret
      break;
    case errc::invalid_request:
      if (!f.detail.empty() && f.detail != "refused by the server")
        ctx.err << ": " << f.detail;
      break;
    case errc::region_unavailable:
      // The server names the tenant's residency region ("refused by the server: no node of region 'eu' ...").
      if (auto at = f.detail.find(": "); at != std::string::npos)
        ctx.err << ": " << f.detail.substr(at + 2);
      break;
    case errc::timeout:
      ctx.err << ": no answer in time; the outcome is unknown (retry with the same ids)";
      break;
    case errc::unauthenticated:
      ctx.err << ": the server refused the client credentials";
      break;
    case errc::forbidden:
      ctx.err << ": these credentials lack the right for this command";
      break;
    case errc::batch_too_large:
      ctx.err << ": more than " << limits::max_batch_items << " items";
      break;
    default:
      break;
  }
  ctx.err << '\n';
  return exit_failed;
}

std::string server_of(const context& ctx) {
  if (!ctx.global.server.empty())
    return ctx.global.server;
  if (ctx.file_error.empty() && !ctx.file.server.empty())
    return ctx.file.server;
  return default_server;
}

}  // namespace

client::options session_options(const context& ctx, std::string client_id, std::string client_secret) {
  client::options opts;
  opts.server = server_of(ctx);
  opts.client_id = std::move(client_id);
  opts.client_secret = std::move(client_secret);
  opts.timeout_ms = ctx.global.timeout_ms;
  opts.insecure = ctx.global.insecure || (ctx.global.ca_file.empty() && ctx.file_error.empty() && ctx.file.insecure);
  opts.ca_file = ctx.global.ca_file;
  if (opts.ca_file.empty() && ctx.file_error.empty() && !ctx.file.ca_file.empty()) {
    std::filesystem::path ca(ctx.file.ca_file);
    if (ca.is_relative() && ctx.file_path)
      ca = ctx.file_path->parent_path() / ca;
    opts.ca_file = ca.string();
  }
  return opts;
}

namespace {

// A connection that failed to open leaves its exit code in `code`.
struct opened {
  client::connection conn;
  int code = exit_processed;
  std::string server;
  client::options opts;  // what the session was opened with (to reopen it after a lost connection)
};

void open_with(context& ctx, opened& o, std::string client_id, std::string client_secret) {
  client::options opts = session_options(ctx, std::move(client_id), std::move(client_secret));
  o.server = opts.server;
  opts.access_token = ctx.global.access_token;  // set: a session from the token alone
  opts.scopes = ctx.global.scopes;
  if (!opts.insecure && opts.ca_file.empty()) {
    o.code = setup_error(ctx, "no CA file to verify the node's TLS certificate: pass --ca-file, or have " +
                                  file_name(ctx) + " hold \"ca_file\" (scripts/cluster up writes it)");
    return;
  }
  o.opts = opts;
  if (auto r = o.conn.open(opts); !r)
    o.code = request_failed(ctx, r.error(), o.server);
}

void open_operator(context& ctx, opened& o) {
  if (!ctx.global.access_token.empty())
    return open_with(ctx, o, {}, {});
  std::string id = ctx.global.client_id;
  std::string secret = ctx.global.client_secret;
  if (id.empty()) {
    if (!ctx.file_error.empty()) {
      o.code = setup_error(ctx, ctx.file_error);
      return;
    }
    id = ctx.file.client_id;
    if (secret.empty())
      secret = ctx.file.client_secret;
  }
  if (id.empty()) {
    o.code = setup_error(ctx, "no operator credentials: pass --client-id and --client-secret, or have " +
                                  file_name(ctx) + " hold them (scripts/cluster up writes it)");
    return;
  }
  open_with(ctx, o, std::move(id), std::move(secret));
}

void open_tenant(context& ctx, const std::string& tenant, opened& o) {
  if (tenant.empty()) {
    o.code = usage(ctx, "--tenant is required");
    return;
  }
  std::optional<uint64_t> expected;
  std::string id = ctx.global.client_id;
  std::string secret = ctx.global.client_secret;
  const auto entry = ctx.file_error.empty() ? client::find_tenant(ctx.file, tenant) : std::nullopt;
  if (entry)
    expected = entry->id;
  if (!ctx.global.access_token.empty()) {
    // The token says which tenant; below, it must be the one asked for.
    if (!expected) {
      if (auto numeric = parse_u64_arg("--tenant", tenant))
        expected = numeric.value();
    }
  } else if (id.empty()) {
    if (!ctx.file_error.empty()) {
      o.code = setup_error(ctx, ctx.file_error);
      return;
    }
    if (!entry || entry->credentials->client_id.empty()) {
      o.code = setup_error(ctx, "no credentials for tenant '" + tenant + "' in " + file_name(ctx) +
                                    ": create it with `caudal tenant create`, or pass --client-id and --client-secret");
      return;
    }
    id = entry->credentials->client_id;
    secret = entry->credentials->client_secret;
  } else if (!expected) {
    if (auto numeric = parse_u64_arg("--tenant", tenant))
      expected = numeric.value();
  }
  open_with(ctx, o, std::move(id), std::move(secret));
  if (o.code != exit_processed)
    return;
  if (expected && o.conn.tenant().value != *expected) {
    o.code = setup_error(
        ctx, "these credentials belong to " +
                 (o.conn.is_admin() ? std::string("an operator") : "tenant " + std::to_string(o.conn.tenant().value)) +
                 ", not to tenant '" + tenant + "'");
  }
}

void print_json(context& ctx, const json& j) {
  ctx.out << dump(j) << '\n';
}

}  // namespace

int open_operator_session(context& ctx, client::connection& conn) {
  opened o;
  open_operator(ctx, o);
  if (o.code == exit_processed)
    conn = std::move(o.conn);
  return o.code;
}

int report_failure(context& ctx, const failure& f) {
  return request_failed(ctx, f, server_of(ctx));
}

int report_usage(context& ctx, const failure& f) {
  return usage(ctx, f);
}

void context::load_file() {
  file_path = client::locate_client_file();
  if (!file_path)
    return;
  auto loaded = client::load_client_file(*file_path);
  if (loaded) {
    file = std::move(loaded).value();
  } else {
    file_error = "client file " + loaded.error().detail;
  }
}

// ---- Pure builders ----

result<std::vector<ledger::account>> accounts_from_args(const account_create_args& a) {
  if (!a.file.empty()) {
    auto text = read_items_file(a.file);
    if (!text)
      return text.error();
    auto items = parse_account_items(text.value());
    if (!items)
      return usage_error("--file " + a.file + ": " + items.error().detail);
    return items;
  }
  for (auto [value, name] : {std::pair{&a.id, "--id"}, {&a.ledger, "--ledger"}, {&a.code, "--code"}}) {
    if (value->empty())
      return usage_error(std::string(name) + " is required (or --file F)");
  }
  ledger::account acc;
  failure err;
  auto flags = parse_flags(flag_kind::account, a.flags);
  if (!flags)
    return flags.error();
  acc.flags = flags.value();
  if (!parse_into(a.id, "--id", parse_u128_arg, acc.id.value, err) ||
      !parse_into(a.ledger, "--ledger", parse_u32_arg, acc.ledger, err) ||
      !parse_into(a.code, "--code", parse_u16_arg, acc.code, err) ||
      !parse_into(a.user_data_128, "--user-data-128", parse_u128_arg, acc.user_data_128, err) ||
      !parse_into(a.user_data_64, "--user-data-64", parse_u64_arg, acc.user_data_64, err) ||
      !parse_into(a.user_data_32, "--user-data-32", parse_u32_arg, acc.user_data_32, err)) {
    return err;
  }
  return std::vector<ledger::account>{acc};
}

result<std::vector<ledger::transfer>> transfers_from_args(const transfer_create_args& a) {
  if (!a.file.empty()) {
    auto text = read_items_file(a.file);
    if (!text)
      return text.error();
    auto items = parse_transfer_items(text.value());
    if (!items)
      return usage_error("--file " + a.file + ": " + items.error().detail);
    return items;
  }
  if (a.id.empty())
    return usage_error("--id is required (or --file F)");
  ledger::transfer t;
  failure err;
  auto flags = parse_flags(flag_kind::transfer, a.flags);
  if (!flags)
    return flags.error();
  t.flags = flags.value();
  if (a.pending)
    t.flags |= ledger::transfer_flags::pending;
  if (a.linked)
    t.flags |= ledger::transfer_flags::linked;
  if (a.balancing_debit)
    t.flags |= ledger::transfer_flags::balancing_debit;
  if (a.balancing_credit)
    t.flags |= ledger::transfer_flags::balancing_credit;
  if (!a.post.empty() && !a.void_.empty())
    return usage_error("--post and --void exclude each other");
  if ((!a.post.empty() || !a.void_.empty()) && !a.pending_id.empty()) {
    return usage_error("--post P and --void P name the pending transfer: leave out --pending-id");
  }
  if (!a.post.empty()) {
    t.flags |= ledger::transfer_flags::post_pending_transfer;
    if (!parse_into(a.post, "--post", parse_u128_arg, t.pending_id.value, err))
      return err;
  }
  if (!a.void_.empty()) {
    t.flags |= ledger::transfer_flags::void_pending_transfer;
    if (!parse_into(a.void_, "--void", parse_u128_arg, t.pending_id.value, err))
      return err;
  }
  // A post or void may leave these at zero: they are taken from the pending transfer (DESIGN.md 5).
  const bool second_phase =
      (t.flags & (ledger::transfer_flags::post_pending_transfer | ledger::transfer_flags::void_pending_transfer)) != 0;
  if (!second_phase) {
    for (auto [value, name] : {std::pair{&a.debit, "--debit"},
                               {&a.credit, "--credit"},
                               {&a.amount, "--amount"},
                               {&a.ledger, "--ledger"},
                               {&a.code, "--code"}}) {
      if (value->empty())
        return usage_error(std::string(name) + " is required (except with --post P or --void P)");
    }
  }
  if (!parse_into(a.id, "--id", parse_u128_arg, t.id.value, err) ||
      !parse_into(a.debit, "--debit", parse_u128_arg, t.debit_account_id.value, err) ||
      !parse_into(a.credit, "--credit", parse_u128_arg, t.credit_account_id.value, err) ||
      !parse_into(a.amount, "--amount", parse_u64_arg, t.amount, err) ||
      !parse_into(a.ledger, "--ledger", parse_u32_arg, t.ledger, err) ||
      !parse_into(a.code, "--code", parse_u16_arg, t.code, err) ||
      !parse_into(a.pending_id, "--pending-id", parse_u128_arg, t.pending_id.value, err) ||
      !parse_into(a.timeout, "--timeout", parse_u32_arg, t.timeout, err) ||
      !parse_into(a.user_data_128, "--user-data-128", parse_u128_arg, t.user_data_128, err) ||
      !parse_into(a.user_data_64, "--user-data-64", parse_u64_arg, t.user_data_64, err) ||
      !parse_into(a.user_data_32, "--user-data-32", parse_u32_arg, t.user_data_32, err)) {
    return err;
  }
  return std::vector<ledger::transfer>{t};
}

result<std::vector<account_id>> ids_from_args(const std::vector<std::string>& ids) {
  if (ids.empty())
    return usage_error("--id is required");
  std::vector<account_id> out;
  out.reserve(ids.size());
  for (const auto& text : ids) {
    auto v = parse_u128_arg("--id", text);
    if (!v)
      return v.error();
    out.push_back(account_id{v.value()});
  }
  return out;
}

result<ledger::account_filter> filter_from_args(const query_args& a) {
  if (a.id.empty())
    return usage_error("--id is required");
  ledger::account_filter f;
  failure err;
  if (!parse_into(a.id, "--id", parse_u128_arg, f.account.value, err) ||
      !parse_into(a.limit, "--limit", parse_u32_arg, f.limit, err)) {
    return err;
  }
  if (f.limit < 1 || f.limit > limits::max_query_rows) {
    return usage_error("--limit: expected 1 to " + std::to_string(limits::max_query_rows));
  }
  if (!a.after.empty()) {
    uint64_t after = 0;
    if (!parse_into(a.after, "--after", parse_u64_arg, after, err))
      return err;
    if (after == UINT64_MAX)
      return usage_error("--after: no timestamp comes after " + a.after);
    f.timestamp_min = after + 1;
  }
  const bool both = !a.debits && !a.credits;
  if (a.debits || both)
    f.flags |= ledger::account_filter_flags::debits;
  if (a.credits || both)
    f.flags |= ledger::account_filter_flags::credits;
  if (a.reversed)
    f.flags |= ledger::account_filter_flags::reversed;
  return f;
}

// ---- Commands ----

int tenant_create(context& ctx, const tenant_create_args& a) {
  if (a.name.empty())
    return usage(ctx, "--name must not be empty");
  if (a.name.size() > limits::max_name_bytes) {
    return usage(ctx, "--name: at most " + std::to_string(limits::max_name_bytes) + " bytes");
  }
  if (a.country.empty())
    return usage(ctx, "--country must not be empty");
  opened o;
  open_operator(ctx, o);
  if (o.code != exit_processed)
    return o.code;
  auto created = o.conn.create_tenant(a.name, a.country);
  if (!created)
    return request_failed(ctx, created.error(), o.server);
  const auto& t = created.value();

  // Store the new client so `--tenant` finds it. Re-read first: keep what changed meanwhile.
  std::string stored_in;
  if (!ctx.file_path) {
    ctx.err << "caudal: warning: no client file to store the credentials in (set CAUDAL_CLIENT_FILE or HOME)\n";
  } else {
    auto fresh = client::load_client_file(*ctx.file_path);
    if (!fresh) {
      ctx.err << "caudal: warning: credentials not stored: " << fresh.error().detail << '\n';
    } else {
      auto file = std::move(fresh).value();
      if (file.server.empty())
        file.server = o.server;
      client::add_tenant(file, t.tenant.id.value,
                         {t.tenant.name.empty() ? a.name : t.tenant.name, t.client_id, t.client_secret});
      if (auto saved = client::save_client_file(*ctx.file_path, file); !saved) {
        ctx.err << "caudal: warning: credentials not stored: " << saved.error().detail << '\n';
      } else {
        stored_in = ctx.file_path->string();
      }
    }
  }
  if (ctx.global.json) {
    print_json(ctx, tenant_created_json(t));
  } else {
    ctx.out << "tenant " << t.tenant.id.value << " created (" << t.tenant.name << ", " << t.tenant.country << ")\n"
            << "client_id:     " << t.client_id << '\n'
            << "client_secret: " << t.client_secret << '\n';
    if (!stored_in.empty())
      ctx.out << "credentials stored in " << stored_in << '\n';
  }
  return exit_processed;
}

// How long a ledger command keeps retrying a retryable failure (a shard moving to another node, a node
// restarting, a lost connection) before it reports it.
constexpr auto ledger_retry_budget = std::chrono::seconds(15);

// Opens a session (`open`: open_operator or open_tenant), makes one call and prints its answer: the shape
// of every command after its arguments are checked. Returns the exit code. Ledger calls (`retry`) are
// retried on a retryable failure with the very same request: its ids make the effect exactly-once, so a
// retry after a lost answer is answered `exists`, never applied twice. A lost connection is reopened.
template <class Open, class Call, class Print>
int call_and_print(context& ctx, Open open, Call call, Print print, bool retry = false) {
  opened o;
  open(o);
  if (o.code != exit_processed)
    return o.code;
  const auto until = std::chrono::steady_clock::now() + ledger_retry_budget;
  auto pause = std::chrono::milliseconds(100);
  auto answer = call(o.conn);
  while (retry && !answer && errc_retryable(answer.error().code) && std::chrono::steady_clock::now() + pause < until) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    if (answer.error().code == errc::node_down || !o.conn.is_open()) {
      if (auto reopened = o.conn.open(o.opts); !reopened) {
        answer = reopened.error();  // still unreachable: try again after the next pause
        continue;
      }
    }
    answer = call(o.conn);
  }
  if (!answer)
    return request_failed(ctx, answer.error(), o.server);
  return print(answer.value());
}

auto as_operator(context& ctx) {
  return [&ctx](opened& o) { open_operator(ctx, o); };
}

auto as_tenant(context& ctx, const std::string& tenant) {
  return [&ctx, &tenant](opened& o) { open_tenant(ctx, tenant, o); };
}

int too_many_items(context& ctx) {
  return request_failed(ctx, failure{errc::batch_too_large, "too many items"}, "");
}

int tenant_list(context& ctx) {
  return call_and_print(
      ctx, as_operator(ctx), [](client::connection& c) { return c.list_tenants(); },
      [&](const std::vector<client::tenant_info>& tenants) {
        if (ctx.global.json)
          print_json(ctx, tenants_json(tenants));
        else
          print_tenants(ctx.out, tenants);
        return exit_processed;
      });
}

int account_create(context& ctx, const account_create_args& a) {
  auto items = accounts_from_args(a);
  if (!items)
    return usage(ctx, items.error());
  if (items->size() > limits::max_batch_items)
    return too_many_items(ctx);
  return call_and_print(
      ctx, as_tenant(ctx, a.tenant), [&](client::connection& c) { return c.create_accounts(items.value()); },
      [&](const client::account_results& results) {
        if (ctx.global.json)
          print_json(ctx, results_json(results));
        else
          print_results(ctx.out, results, items.value());
        return exit_processed;
      },
      /*retry=*/true);
}

int account_get(context& ctx, const lookup_args& a) {
  auto ids = ids_from_args(a.ids);
  if (!ids)
    return usage(ctx, ids.error());
  if (ids->size() > limits::max_batch_items)
    return too_many_items(ctx);
  return call_and_print(
      ctx, as_tenant(ctx, a.tenant), [&](client::connection& c) { return c.lookup_accounts(ids.value()); },
      [&](const std::vector<ledger::account>& accounts) {
        if (ctx.global.json) {
          print_json(ctx, accounts_json(accounts));
        } else {
          print_accounts(ctx.out, accounts);
          if (accounts.size() < ids->size())
            ctx.out << (ids->size() - accounts.size()) << " not found\n";
        }
        return exit_processed;
      },
      /*retry=*/true);
}

int account_transfers(context& ctx, const query_args& a) {
  auto filter = filter_from_args(a);
  if (!filter)
    return usage(ctx, filter.error());
  return call_and_print(
      ctx, as_tenant(ctx, a.tenant), [&](client::connection& c) { return c.account_transfers(filter.value()); },
      [&](const std::vector<ledger::transfer>& transfers) {
        if (ctx.global.json) {
          print_json(ctx, transfer_page_json(transfers));
        } else {
          print_transfers(ctx.out, transfers);
          if (!transfers.empty())
            ctx.out << "next page: --after " << transfers.back().timestamp << '\n';
        }
        return exit_processed;
      },
      /*retry=*/true);
}

int account_balances(context& ctx, const query_args& a) {
  auto filter = filter_from_args(a);
  if (!filter)
    return usage(ctx, filter.error());
  return call_and_print(
      ctx, as_tenant(ctx, a.tenant), [&](client::connection& c) { return c.account_balances(filter.value()); },
      [&](const std::vector<ledger::account_balance>& balances) {
        if (ctx.global.json) {
          print_json(ctx, balance_page_json(balances));
        } else {
          print_balances(ctx.out, balances);
          if (!balances.empty())
            ctx.out << "next page: --after " << balances.back().timestamp << '\n';
        }
        return exit_processed;
      },
      /*retry=*/true);
}

int transfer_create(context& ctx, const transfer_create_args& a) {
  auto items = transfers_from_args(a);
  if (!items)
    return usage(ctx, items.error());
  if (items->size() > limits::max_batch_items)
    return too_many_items(ctx);
  return call_and_print(
      ctx, as_tenant(ctx, a.tenant), [&](client::connection& c) { return c.create_transfers(items.value()); },
      [&](const client::transfer_results& results) {
        if (ctx.global.json)
          print_json(ctx, results_json(results));
        else
          print_results(ctx.out, results, items.value());
        return exit_processed;
      },
      /*retry=*/true);
}

int transfer_get(context& ctx, const lookup_args& a) {
  auto ids = ids_from_args(a.ids);
  if (!ids)
    return usage(ctx, ids.error());
  if (ids->size() > limits::max_batch_items)
    return too_many_items(ctx);
  std::vector<transfer_id> transfer_ids;
  transfer_ids.reserve(ids->size());
  for (const auto& id : ids.value())
    transfer_ids.push_back(transfer_id{id.value});
  return call_and_print(
      ctx, as_tenant(ctx, a.tenant), [&](client::connection& c) { return c.lookup_transfers(transfer_ids); },
      [&](const std::vector<ledger::transfer>& transfers) {
        if (ctx.global.json) {
          print_json(ctx, transfers_json(transfers));
        } else {
          print_transfers(ctx.out, transfers);
          if (transfers.size() < ids->size())
            ctx.out << (ids->size() - transfers.size()) << " not found\n";
        }
        return exit_processed;
      },
      /*retry=*/true);
}

int verify(context& ctx, const std::vector<std::string>& tenants) {
  return call_and_print(
      ctx, as_operator(ctx),
      [&](client::connection& c) -> result<client::verify_report> {
        if (tenants.empty())
          return c.verify();
        // Each --tenant is an id, or a name looked up among the tenants (names are unique).
        std::vector<tenant_id> ids;
        std::optional<std::vector<client::tenant_info>> known;
        for (const auto& t : tenants) {
          if (auto numeric = parse_u64_arg("--tenant", t)) {
            ids.push_back(tenant_id{numeric.value()});
            continue;
          }
          if (!known) {
            auto listed = c.list_tenants();
            if (!listed)
              return listed.error();
            known = std::move(listed).value();
          }
          auto it = std::find_if(known->begin(), known->end(), [&](const auto& k) { return k.name == t; });
          if (it == known->end())
            return failure{errc::tenant_not_found, "no tenant named '" + t + "'"};
          ids.push_back(it->id);
        }
        return c.verify(ids);
      },
      [&](const client::verify_report& report) {
        if (ctx.global.json)
          print_json(ctx, verify_json(report));
        else
          print_verify(ctx.out, report);
        return report.ok ? exit_processed : exit_failed;
      });
}

// ---- Clients, keys, audit ----

namespace {

json client_json(const client::client_info& c) {
  json j = {{"client_id", c.client_id},
            {"tenant_id", c.tenant ? std::to_string(c.tenant->value) : std::string()},
            {"scopes", security::scope_names(c.scopes)},
            {"created_at_ms", c.created_at_ms},
            {"revoked", c.revoked_at_ms != 0}};
  if (c.revoked_at_ms != 0)
    j["revoked_at_ms"] = c.revoked_at_ms;
  return j;
}

// "2026-11-28T18:00:00.123Z"
std::string iso_time(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int fields (the compiler cannot bound them)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

void print_client(std::ostream& out, const client::client_info& c) {
  out << c.client_id << "  " << (c.tenant ? "tenant " + std::to_string(c.tenant->value) : std::string("operator"))
      << "  " << security::scope_string(c.scopes) << (c.revoked_at_ms != 0 ? "  REVOKED" : "") << '\n';
}

}  // namespace

result<int64_t> parse_since(const std::string& text, int64_t now_ms) {
  if (text.empty())
    return usage_error("--since is required (ms since the epoch, 2026-11-28T18:00:00Z, or 15m ago)");
  const char unit = text.back();
  const bool relative = unit == 's' || unit == 'm' || unit == 'h' || unit == 'd';
  const std::string digits = relative ? text.substr(0, text.size() - 1) : text;
  if (!digits.empty() && digits.size() <= 15 && std::all_of(digits.begin(), digits.end(), ::isdigit)) {
    int64_t n = std::stoll(digits);
    if (!relative)
      return n;
    int64_t per = unit == 's' ? 1000 : unit == 'm' ? 60'000 : unit == 'h' ? 3'600'000 : 86'400'000;
    return std::max<int64_t>(0, now_ms - n * per);
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end != nullptr && (std::string(end) == "Z" || std::string(end).empty()))
    return static_cast<int64_t>(timegm(&tm)) * 1000;
  return usage_error("--since '" + text + "': expected ms since the epoch, 2026-11-28T18:00:00Z, or 15m/2h/1d ago");
}

int client_create(context& ctx, const client_create_args& a) {
  if (a.operator_client == !a.tenant.empty())
    return usage(ctx, "give either --tenant T or --operator");
  if (a.scopes.empty())
    return usage(ctx, "--scopes is required (ledger:read, ledger:write, onboarding; admin for --operator)");
  if (auto known = security::parse_scopes(a.scopes); !known)
    return usage(ctx, known.error());
  uint64_t tenant = 0;
  if (!a.operator_client) {
    const auto entry = ctx.file_error.empty() ? client::find_tenant(ctx.file, a.tenant) : std::nullopt;
    if (entry) {
      tenant = entry->id;
    } else if (auto numeric = parse_u64_arg("--tenant", a.tenant)) {
      tenant = numeric.value();
    } else {
      return usage(ctx, "--tenant '" + a.tenant + "': not a tenant id, and no tenant of that name in " + file_name(ctx));
    }
    if (tenant == 0)
      return usage(ctx, "--tenant must not be 0");
  }
  return call_and_print(
      ctx, as_operator(ctx), [&](client::connection& c) { return c.create_client(tenant, a.scopes); },
      [&](const client::new_client& created) {
        if (ctx.global.json) {
          json j = client_json(created.client);
          j["client_secret"] = created.client_secret;
          print_json(ctx, j);
        } else {
          print_client(ctx.out, created.client);
          ctx.out << "client secret (shown once): " << created.client_secret << '\n';
        }
        return exit_processed;
      });
}

int client_rotate_secret(context& ctx, const client_id_args& a) {
  return call_and_print(
      ctx, as_operator(ctx), [&](client::connection& c) { return c.rotate_client_secret(a.id); },
      [&](const std::string& secret) {
        if (ctx.global.json)
          print_json(ctx, json{{"client_id", a.id}, {"client_secret", secret}});
        else
          ctx.out << "new client secret of " << a.id << " (shown once): " << secret << '\n';
        return exit_processed;
      });
}

int client_revoke(context& ctx, const client_id_args& a) {
  return call_and_print(
      ctx, as_operator(ctx), [&](client::connection& c) { return c.revoke_client(a.id); },
      [&](const client::client_info& revoked) {
        if (ctx.global.json)
          print_json(ctx, client_json(revoked));
        else
          print_client(ctx.out, revoked);
        return exit_processed;
      });
}

int client_list(context& ctx) {
  return call_and_print(
      ctx, as_operator(ctx), [](client::connection& c) { return c.list_clients(); },
      [&](const std::vector<client::client_info>& clients) {
        if (ctx.global.json) {
          json list = json::array();
          for (const auto& c : clients)
            list.push_back(client_json(c));
          print_json(ctx, json{{"clients", list}});
        } else {
          for (const auto& c : clients)
            print_client(ctx.out, c);
        }
        return exit_processed;
      });
}

int keys_rotate(context& ctx) {
  return call_and_print(
      ctx, as_operator(ctx), [](client::connection& c) { return c.rotate_signing_key(); },
      [&](const std::string& kid) {
        if (ctx.global.json)
          print_json(ctx, json{{"key_id", kid}});
        else
          ctx.out << "token signing key " << kid << " signs from now on; the previous one verifies until its tokens "
                                                    "expire\n";
        return exit_processed;
      });
}

int audit(context& ctx, const audit_args& a) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto since = parse_since(a.since, now_ms);
  if (!since)
    return usage(ctx, since.error());
  auto limit = parse_u64_arg("--limit", a.limit);
  if (!limit || limit.value() == 0 || limit.value() > limits::max_query_rows)
    return usage(ctx, "--limit must be 1.." + std::to_string(limits::max_query_rows));
  return call_and_print(
      ctx, as_operator(ctx),
      [&](client::connection& c) { return c.list_audit(since.value(), static_cast<uint32_t>(limit.value())); },
      [&](const std::vector<client::audit_event>& events) {
        if (ctx.global.json) {
          json list = json::array();
          for (const auto& e : events)
            list.push_back({{"id", e.id},
                            {"at_ms", e.at_ms},
                            {"client_id", e.client_id},
                            {"source", e.source},
                            {"action", e.action},
                            {"outcome", e.outcome},
                            {"detail", e.detail}});
          print_json(ctx, json{{"events", list}});
        } else {
          for (const auto& e : events)
            ctx.out << iso_time(e.at_ms) << "  " << e.client_id << "  " << e.source << "  " << e.action << "  " << e.outcome
                    << (e.detail.empty() ? "" : "  " + e.detail) << '\n';
        }
        return exit_processed;
      });
}

int token(context& ctx, const std::string& tenant) {
  opened o;
  if (tenant.empty())
    open_operator(ctx, o);
  else
    open_tenant(ctx, tenant, o);
  if (o.code != exit_processed)
    return o.code;
  if (ctx.global.json) {
    print_json(ctx, json{{"access_token", o.conn.access_token()},
                         {"expires_at_ms", o.conn.expires_at_ms()},
                         {"scopes", o.conn.scopes()},
                         {"tenant_id", o.conn.is_admin() ? std::string() : std::to_string(o.conn.tenant().value)}});
  } else {
    ctx.out << o.conn.access_token() << '\n';
  }
  return exit_processed;
}

int cluster_status(context& ctx) {
  return call_and_print(
      ctx, as_operator(ctx), [](client::connection& c) { return c.get_cluster_status(); },
      [&](const client::cluster_status& status) {
        if (ctx.global.json)
          print_json(ctx, cluster_status_json(status));
        else
          print_cluster_status(ctx.out, status);
        return exit_processed;
      });
}

}  // namespace caudal::cli
