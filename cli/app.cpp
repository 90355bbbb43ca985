// The command-line grammar of `caudal` (CLI11) and its dispatch to cli/commands.cpp.
#include "cli/app.hpp"

#include <CLI/CLI.hpp>
#include <exception>
#include <functional>

#include "cli/bench.hpp"
#include "cli/cluster_commands.hpp"
#include "cli/commands.hpp"
#include "cli/parse.hpp"

namespace caudal::cli {

namespace {

// Every option value lives here while CLI11 parses into it.
struct arguments {
  global_options global;
  tenant_create_args tenant_create;
  account_create_args account_create;
  lookup_args account_get;
  query_args account_transfers;
  query_args account_balances;
  transfer_create_args transfer_create;
  lookup_args transfer_get;
  bench_args bench;
  std::vector<std::string> verify_tenants;
  client_create_args client_create;
  client_id_args client_rotate, client_revoke;
  audit_args audit;
  std::string token_tenant;
  cluster_drain_args cluster_drain;
};

void add_tenant_option(CLI::App* cmd, std::string& tenant) {
  cmd->add_option("--tenant", tenant, "Tenant id or name (its client comes from the client file)")
      ->type_name("T")
      ->required();
}

void add_user_data(CLI::App* cmd, std::string& u128, std::string& u64, std::string& u32) {
  cmd->add_option("--user-data-128", u128, "User data, 128 bits")->type_name("N");
  cmd->add_option("--user-data-64", u64, "User data, 64 bits")->type_name("N");
  cmd->add_option("--user-data-32", u32, "User data, 32 bits")->type_name("N");
}

// `--file F` excludes every item option of the command.
void file_excludes_items(CLI::App* cmd, CLI::Option* file) {
  for (const auto* opt : cmd->get_options()) {
    const std::string name = opt->get_name();
    if (opt == file || name == "--tenant" || name == "--help" || name.empty())
      continue;
    file->excludes(const_cast<CLI::Option*>(opt));
  }
}

void add_query(CLI::App* cmd, query_args& q) {
  add_tenant_option(cmd, q.tenant);
  cmd->add_option("--id", q.id, "Account id")->type_name("N")->required();
  cmd->add_option("--limit", q.limit, "Rows at most (1..8190)")->type_name("L")->capture_default_str();
  cmd->add_option("--after", q.after, "Only rows after this timestamp (the previous page's next_after)")
      ->type_name("TS");
  cmd->add_flag("--debits", q.debits, "Transfers debiting the account");
  cmd->add_flag("--credits", q.credits, "Transfers crediting the account (neither flag: both)");
  cmd->add_flag("--reversed", q.reversed, "Newest first");
}

}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  try {
    arguments args;
    CLI::App app{"caudal: the command line of the Caudal ledger", "caudal"};
    app.fallthrough();  // global options are accepted after the subcommand too (inherited by subcommands)
    app.require_subcommand(1);
    app.add_option("--server", args.global.server, "Node address HOST:PORT (default: the client file's)")
        ->type_name("HOST:PORT");
    app.add_option("--client-id", args.global.client_id, "Client id (default: the client file's)");
    app.add_option("--client-secret", args.global.client_secret, "Client secret (default: the client file's)");
    app.add_option("--ca-file", args.global.ca_file, "CA certificate that signed the node's TLS certificate "
                   "(default: the client file's ca_file)")
        ->type_name("PEM");
    app.add_flag("--insecure", args.global.insecure, "Plain TCP to a node started with --insecure (development only)");
    app.add_option("--access-token", args.global.access_token,
                   "Open the session from this access token (see `caudal token`) instead of client credentials")
        ->type_name("JWT");
    app.add_option("--auth-scopes", args.global.scopes, "Scopes to ask for when authenticating (default: all held)")
        ->delimiter(',')
        ->type_name("NAMES");
    app.add_flag("--json", args.global.json, "Print one JSON object");

    // tenant create | list
    auto* tenant = app.add_subcommand("tenant", "Tenants (operator credentials)");
    tenant->require_subcommand(1);
    auto* tenant_create_cmd = tenant->add_subcommand("create", "Create a tenant and store its client's credentials");
    tenant_create_cmd->add_option("--name", args.tenant_create.name, "Tenant name")->required();
    tenant_create_cmd->add_option("--country", args.tenant_create.country, "ISO 3166-1 alpha-2 country code")
        ->type_name("CC")
        ->required();
    auto* tenant_list_cmd = tenant->add_subcommand("list", "List the tenants");

    // account create | get | transfers | balances
    auto* account = app.add_subcommand("account", "Accounts of a tenant");
    account->require_subcommand(1);
    auto* account_create_cmd = account->add_subcommand("create", "Create an account (or a batch with --file)");
    {
      auto& a = args.account_create;
      add_tenant_option(account_create_cmd, a.tenant);
      account_create_cmd->add_option("--id", a.id, "Account id (1..2^128-2)")->type_name("N");
      account_create_cmd->add_option("--ledger", a.ledger, "Ledger (currency or asset)")->type_name("L");
      account_create_cmd->add_option("--code", a.code, "Account code")->type_name("C");
      account_create_cmd
          ->add_option("--flags", a.flags,
                       "Flags, comma-separated or repeated: " + known_flag_names(flag_kind::account))
          ->delimiter(',')
          ->type_name("NAMES");
      add_user_data(account_create_cmd, a.user_data_128, a.user_data_64, a.user_data_32);
      auto* file =
          account_create_cmd->add_option("--file", a.file, "JSON array of accounts, sent as one batch")->type_name("F");
      file_excludes_items(account_create_cmd, file);
    }
    auto* account_get_cmd = account->add_subcommand("get", "Look up accounts");
    add_tenant_option(account_get_cmd, args.account_get.tenant);
    account_get_cmd->add_option("--id", args.account_get.ids, "Account id (repeat for more)")
        ->type_name("N")
        ->required();
    auto* account_transfers_cmd = account->add_subcommand("transfers", "An account's transfers, in time order");
    add_query(account_transfers_cmd, args.account_transfers);
    auto* account_balances_cmd =
        account->add_subcommand("balances", "An account's balance history (accounts with the history flag)");
    add_query(account_balances_cmd, args.account_balances);

    // transfer create | get
    auto* transfer = app.add_subcommand("transfer", "Transfers of a tenant");
    transfer->require_subcommand(1);
    auto* transfer_create_cmd = transfer->add_subcommand("create", "Create a transfer (or a batch with --file)");
    {
      auto& t = args.transfer_create;
      auto* cmd = transfer_create_cmd;
      add_tenant_option(cmd, t.tenant);
      cmd->add_option("--id", t.id, "Transfer id (1..2^128-2)")->type_name("N");
      cmd->add_option("--debit", t.debit, "Debit account id")->type_name("A");
      cmd->add_option("--credit", t.credit, "Credit account id")->type_name("B");
      cmd->add_option("--amount", t.amount, "Amount in minor units (post/void: 0 = the pending amount)")
          ->type_name("X");
      cmd->add_option("--ledger", t.ledger, "Ledger")->type_name("L");
      cmd->add_option("--code", t.code, "Transfer code")->type_name("C");
      cmd->add_option("--flags", t.flags,
                      "Flags, comma-separated or repeated: " + known_flag_names(flag_kind::transfer))
          ->delimiter(',')
          ->type_name("NAMES");
      cmd->add_flag("--pending", t.pending, "Two-phase: reserve the amount (flag pending)");
      cmd->add_flag("--linked", t.linked, "Linked to the next item of the batch (flag linked)");
      auto* post = cmd->add_option("--post", t.post, "Post pending transfer P (flag post_pending)")->type_name("P");
      auto* void_ = cmd->add_option("--void", t.void_, "Void pending transfer P (flag void_pending)")->type_name("P");
      auto* pending_id = cmd->add_option("--pending-id", t.pending_id,
                                         "Pending transfer id (with --flags "
                                         "post_pending or void_pending)")
                             ->type_name("P");
      post->excludes(void_);
      post->excludes(pending_id);
      void_->excludes(pending_id);
      cmd->add_flag("--balancing-debit", t.balancing_debit, "Flag balancing_debit");
      cmd->add_flag("--balancing-credit", t.balancing_credit, "Flag balancing_credit");
      cmd->add_option("--timeout", t.timeout, "Pending transfers: seconds until it expires (0: never)")->type_name("S");
      add_user_data(cmd, t.user_data_128, t.user_data_64, t.user_data_32);
      auto* file = cmd->add_option("--file", t.file, "JSON array of transfers, sent as one batch")->type_name("F");
      file_excludes_items(cmd, file);
    }
    auto* transfer_get_cmd = transfer->add_subcommand("get", "Look up transfers");
    add_tenant_option(transfer_get_cmd, args.transfer_get.tenant);
    transfer_get_cmd->add_option("--id", args.transfer_get.ids, "Transfer id (repeat for more)")
        ->type_name("N")
        ->required();

    auto* verify_cmd = app.add_subcommand("verify", "Check double entry and every balance (operator credentials)");
    verify_cmd->add_option("--tenant", args.verify_tenants, "Only this tenant, an id or a name (repeat for more)")
        ->type_name("T");

    auto* bench_cmd = app.add_subcommand(
        "bench", "Load test through the API: fresh tenants and accounts, then transfers (operator credentials)");
    {
      auto& b = args.bench;
      auto* cmd = bench_cmd;
      cmd->add_option("--clients", b.clients, "Client threads (one connection per tenant each)")
          ->type_name("N")
          ->capture_default_str();
      cmd->add_option("--batch", b.batch, "Transfers per request (1..8190)")->type_name("N")->capture_default_str();
      cmd->add_option("--tenants", b.tenants, "Tenants, created fresh for the run")->type_name("N")->capture_default_str();
      cmd->add_option("--accounts", b.accounts, "Accounts per tenant")->type_name("N")->capture_default_str();
      cmd->add_option("--hot", b.hot, "Share of transfers with one side on one of 8 hot accounts per tenant (0..1)")
          ->type_name("H")
          ->capture_default_str();
      cmd->add_option("--seconds", b.seconds, "Measured time")->type_name("S")->capture_default_str();
      cmd->add_option("--warmup", b.warmup, "Load before the measured time, not counted")
          ->type_name("S")
          ->capture_default_str();
      cmd->add_option("--rate", b.rate, "Requests/s over all clients, open loop (default: closed loop, as fast as it goes)")
          ->type_name("R");
      cmd->add_option("--country", b.country, "Country of the bench tenants")->type_name("CC")->capture_default_str();
      cmd->add_flag("--to-owner", b.to_owner,
                    "Send each tenant's requests to the node owning its shard (default: to the server, which "
                    "forwards what it does not own)");
    }

    // client create | rotate-secret | revoke | list; keys rotate; audit (operator credentials)
    auto* clients = app.add_subcommand("client", "API clients (operator credentials)");
    clients->require_subcommand(1);
    auto* client_create_cmd = clients->add_subcommand("create", "Create a client; its secret is printed once");
    client_create_cmd->add_option("--tenant", args.client_create.tenant, "Tenant id or name of the client")
        ->type_name("T");
    client_create_cmd->add_flag("--operator", args.client_create.operator_client,
                                "An operator client (scope admin) instead of a tenant's");
    client_create_cmd
        ->add_option("--scopes", args.client_create.scopes,
                     "Scopes, comma-separated: ledger:read, ledger:write, onboarding (tenants), admin (operators)")
        ->delimiter(',')
        ->type_name("NAMES")
        ->required();
    auto* client_rotate_cmd = clients->add_subcommand("rotate-secret", "Give a client a new secret (printed once)");
    client_rotate_cmd->add_option("--id", args.client_rotate.id, "Client id")->required();
    auto* client_revoke_cmd =
        clients->add_subcommand("revoke", "Revoke a client: its sessions close, its tokens stop working");
    client_revoke_cmd->add_option("--id", args.client_revoke.id, "Client id")->required();
    auto* client_list_cmd = clients->add_subcommand("list", "List the clients (never their secrets)");
    auto* keys = app.add_subcommand("keys", "Access-token signing keys (operator credentials)");
    keys->require_subcommand(1);
    auto* keys_rotate_cmd =
        keys->add_subcommand("rotate", "A new key signs from now on; the previous one verifies until its tokens expire");
    auto* audit_cmd = app.add_subcommand("audit", "Authentications, admin actions, client and key changes");
    audit_cmd->add_option("--since", args.audit.since, "From: ms since the epoch, 2026-11-28T18:00:00Z, or 15m/2h/1d ago")
        ->type_name("T")
        ->required();
    audit_cmd->add_option("--limit", args.audit.limit, "Events at most (1..8190)")->capture_default_str();
    auto* token_cmd = app.add_subcommand("token", "Authenticate and print an access token (15 minutes by default)");
    token_cmd->add_option("--tenant", args.token_tenant, "Tenant id or name (default: the operator's token)")
        ->type_name("T");

    auto* cluster = app.add_subcommand("cluster", "The cluster's members and shard leases");
    cluster->require_subcommand(1);
    auto* cluster_status_cmd =
        cluster->add_subcommand("status", "Nodes (state, region, shards, heartbeat age) and the shard summary");
    auto* cluster_drain_cmd = cluster->add_subcommand(
        "drain", "Set a node draining: it takes no new shards and hands over those it holds to the live nodes");
    cluster_drain_cmd->add_option("node", args.cluster_drain.node, "Node id (as in cluster status)")
        ->type_name("NODE")
        ->required();
    cluster_drain_cmd->add_flag("--wait", args.cluster_drain.wait,
                                "Wait until the node holds no shard (exit 1 when --timeout passes first)");
    cluster_drain_cmd->add_option("--timeout", args.cluster_drain.timeout, "Seconds --wait waits at most")
        ->type_name("S")
        ->capture_default_str();

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e, out, err);  // prints help, or the error and a hint
      return code == 0 ? exit_processed : exit_usage;
    }

    context ctx(args.global, out, err);
    ctx.load_file();
    if (tenant_create_cmd->parsed())
      return tenant_create(ctx, args.tenant_create);
    if (tenant_list_cmd->parsed())
      return tenant_list(ctx);
    if (account_create_cmd->parsed())
      return account_create(ctx, args.account_create);
    if (account_get_cmd->parsed())
      return account_get(ctx, args.account_get);
    if (account_transfers_cmd->parsed())
      return account_transfers(ctx, args.account_transfers);
    if (account_balances_cmd->parsed())
      return account_balances(ctx, args.account_balances);
    if (transfer_create_cmd->parsed())
      return transfer_create(ctx, args.transfer_create);
    if (transfer_get_cmd->parsed())
      return transfer_get(ctx, args.transfer_get);
    if (verify_cmd->parsed())
      return verify(ctx, args.verify_tenants);
    if (bench_cmd->parsed())
      return bench(ctx, args.bench);
    if (client_create_cmd->parsed())
      return client_create(ctx, args.client_create);
    if (client_rotate_cmd->parsed())
      return client_rotate_secret(ctx, args.client_rotate);
    if (client_revoke_cmd->parsed())
      return client_revoke(ctx, args.client_revoke);
    if (client_list_cmd->parsed())
      return client_list(ctx);
    if (keys_rotate_cmd->parsed())
      return keys_rotate(ctx);
    if (audit_cmd->parsed())
      return audit(ctx, args.audit);
    if (token_cmd->parsed())
      return token(ctx, args.token_tenant);
    if (cluster_status_cmd->parsed())
      return cluster_status(ctx);
    if (cluster_drain_cmd->parsed())
      return cluster_drain(ctx, args.cluster_drain);
    err << "caudal: no command\n";
    return exit_usage;
  } catch (const std::exception& e) {
    err << "caudal: internal error: " << e.what() << '\n';
    return exit_failed;
  }
}

}  // namespace caudal::cli
