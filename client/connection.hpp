#pragma once
// A blocking client of Caudal's Cap'n Proto RPC API (schemas/api.capnp): the CLI, the benchmark and the
// integration tests use it.
//
// Threading: a connection runs the kj event loop of the thread that opened it and must only be used (and
// destroyed, or closed) on that thread; after close() it may be opened again on any thread. Several
// connections on one thread share that thread's loop (kj allows one per thread); the loop goes away with
// the last of them. No call is ever left waiting: each has a deadline (options::timeout_ms). Failures are
// values: capnp/kj exceptions never escape this class.
//
// Errors: a request the server refused answers failure{the response's error code}; a lost or refused
// connection answers errc::node_down (a TLS handshake that fails too: an untrusted or misnamed server
// certificate, or a server that does not speak TLS 1.3); a deadline passed answers errc::timeout (the outcome is unknown;
// retry with the same ids); more than limits::max_batch_items items answers errc::batch_too_large without
// sending anything.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/ledger/result_codes.hpp"
#include "actors/ledger/types.hpp"
#include "base/ids.hpp"
#include "base/result.hpp"
#include "schemas/codec.hpp"

namespace caudal::client {

struct options {
  std::string server;  // "host:port" (IPv6: "[::1]:7400"); the port defaults to 7400
  std::string client_id;
  std::string client_secret;
  uint32_t timeout_ms = 30000;  // deadline of each call; open() gives it to the connect and to authenticate
  // Transport: TLS 1.3, trusting only the CA certificate(s) in ca_file; the server's certificate must name
  // the host of `server`. Plain TCP only with insecure = true (a node started with --insecure). Neither
  // set: open() answers errc::invalid_request without connecting.
  std::string ca_file;
  bool insecure = false;
  // OAuth 2.0 client credentials: the scopes asked for (empty: all the client holds). With access_token
  // set, open() opens a session from that token instead (client_id/secret are not sent).
  std::vector<std::string> scopes;
  std::string access_token;
};

constexpr uint16_t default_port = 7400;

using tenant_info = wire::tenant_info;
using verify_report = wire::verify_report;
using cluster_status = wire::cluster_status;
using cluster_node_status = wire::cluster_node_status;
using fault_kind = wire::fault_kind;
using fault = wire::fault;

using client_info = wire::client_info;
using audit_event = wire::audit_event;

struct new_client {
  client_info client;
  std::string client_secret;  // shown once: the server keeps only its hash
};

struct new_tenant {
  tenant_info tenant;
  std::string client_id;
  std::string client_secret;  // shown once: the server keeps only its hash
};

// Per-item results of a create call, one per item, in request order. A value above
// ledger::create_*_result_max comes from a newer server and has no name here.
using account_results = std::vector<ledger::create_account_result>;
using transfer_results = std::vector<ledger::create_transfer_result>;

class connection {
 public:
  connection();
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  connection(connection&&) noexcept;
  connection& operator=(connection&&) noexcept;

  // Connects and authenticates; on success the session is bound to tenant_id() (or is an operator session,
  // is_admin()). Calling it again drops the current session first (reconnect after node_down).
  result<void> open(const options& o);
  void close();
  // A session was established and not closed. A connection lost since then shows on the next call
  // (errc::node_down); open() again to reconnect.
  bool is_open() const;

  tenant_id tenant() const;  // 0 for operator sessions
  bool is_admin() const;
  // The session's scopes (names), its access token (empty for a session opened from a token) and when
  // both end (ms since the epoch). After that, calls answer errc::unauthenticated: open() again.
  const std::vector<std::string>& scopes() const;
  const std::string& access_token() const;
  int64_t expires_at_ms() const;

  // Tenant sessions. Batches of at most limits::max_batch_items items (an empty one is sent as it is).
  result<account_results> create_accounts(const std::vector<ledger::account>& accounts);
  result<transfer_results> create_transfers(const std::vector<ledger::transfer>& transfers);
  // The ones found, in request order.
  result<std::vector<ledger::account>> lookup_accounts(const std::vector<account_id>& ids);
  result<std::vector<ledger::transfer>> lookup_transfers(const std::vector<transfer_id>& ids);
  result<std::vector<ledger::transfer>> account_transfers(const ledger::account_filter& filter);
  result<std::vector<ledger::account_balance>> account_balances(const ledger::account_filter& filter);

  // Operator sessions (is_admin()); others answer errc::forbidden.
  result<new_tenant> create_tenant(const std::string& name, const std::string& country);
  result<std::vector<tenant_info>> list_tenants();
  // Of these tenants (at most limits::max_batch_items), or of all when empty.
  result<verify_report> verify(const std::vector<tenant_id>& tenants = {});
  result<cluster_status> get_cluster_status();  // members and shard leases (operator credentials)
  // Sets the member draining (its shards move to the other live nodes); answers it right after the change.
  // errc::node_not_found: no such member; errc::node_down from the server: the member is down.
  result<cluster_node_status> drain_node(const std::string& node_id);
  result<void> inject_fault(const fault& f);  // nodes without --test-hooks answer errc::not_enabled
  // Clients: tenant 0 makes an operator client (scope admin). Scope names as in security/scopes.hpp.
  result<new_client> create_client(uint64_t tenant, const std::vector<std::string>& scopes);
  result<std::string> rotate_client_secret(const std::string& client_id);  // the new secret
  result<client_info> revoke_client(const std::string& client_id);
  result<std::vector<client_info>> list_clients();
  result<std::string> rotate_signing_key();  // the new key id
  result<std::vector<audit_event>> list_audit(int64_t since_ms, uint32_t limit);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace caudal::client
