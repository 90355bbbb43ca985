#include "cluster/forwarding.hpp"

#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <deque>
#include <functional>
#include <unordered_map>

#include "actors/protocol.hpp"
#include "cluster/node_config.hpp"
#include "schemas/internode_codec.hpp"

namespace caudal::cluster {

using actors::caller;
using wire::forward_op;
using wire::forwarded_reply;
using wire::forwarded_request;

route_table make_route_table(const std::vector<storage::member>& members,
                             const std::vector<storage::shard_lease>& leases, uint32_t shard_count) {
  route_table t;
  for (const auto& m : members)
    if (m.state != storage::member_state::down)
      t.nodes.push_back({m.id.node_id, m.id.incarnation, m.addresses.cluster, m.region});
  t.owner.assign(shard_count, -1);
  for (const auto& l : leases) {
    if (!l.owner || l.expires_in_ms <= 0 || l.shard >= shard_count)
      continue;
    for (size_t i = 0; i < t.nodes.size(); ++i)
      if (t.nodes[i].node_id == l.owner->node_id && t.nodes[i].incarnation == l.owner->incarnation)
        t.owner[l.shard] = static_cast<int32_t>(i);
  }
  return t;
}

result<route_table> read_route_table(storage::pg_connection& c, uint32_t shard_count) {
  auto members = storage::list_members(c);
  if (!members.ok())
    return members.error();
  auto leases = storage::list_leases(c);
  if (!leases.ok())
    return leases.error();
  return make_route_table(members.value(), leases.value(), shard_count);
}

namespace {

// --- the six ledger calls: payload, answer and inter-node operation of each ---

template <class Atom>
struct ledger_call;
template <>
struct ledger_call<actors::create_accounts_atom> {
  using payload = actors::account_batch;
  using reply = actors::account_results;
  static constexpr forward_op op = forward_op::create_accounts;
};
template <>
struct ledger_call<actors::create_transfers_atom> {
  using payload = actors::transfer_batch;
  using reply = actors::transfer_results;
  static constexpr forward_op op = forward_op::create_transfers;
};
template <>
struct ledger_call<actors::lookup_accounts_atom> {
  using payload = actors::account_ids;
  using reply = actors::account_list;
  static constexpr forward_op op = forward_op::lookup_accounts;
};
template <>
struct ledger_call<actors::lookup_transfers_atom> {
  using payload = actors::transfer_ids;
  using reply = actors::transfer_list;
  static constexpr forward_op op = forward_op::lookup_transfers;
};
template <>
struct ledger_call<actors::account_transfers_atom> {
  using payload = ledger::account_filter;
  using reply = actors::transfer_list;
  static constexpr forward_op op = forward_op::account_transfers;
};
template <>
struct ledger_call<actors::account_balances_atom> {
  using payload = ledger::account_filter;
  using reply = actors::balance_list;
  static constexpr forward_op op = forward_op::account_balances;
};

// Payload -> request (sending side) and request -> payload (owner's side).
void put(forwarded_request& r, actors::account_batch&& p) { r.accounts = std::move(p.items); }
void put(forwarded_request& r, actors::transfer_batch&& p) { r.transfers = std::move(p.items); }
void put(forwarded_request& r, actors::account_ids&& p) {
  r.ids.reserve(p.ids.size());
  for (const auto& id : p.ids)
    r.ids.push_back(id.value);
}
void put(forwarded_request& r, actors::transfer_ids&& p) {
  r.ids.reserve(p.ids.size());
  for (const auto& id : p.ids)
    r.ids.push_back(id.value);
}
void put(forwarded_request& r, ledger::account_filter&& p) { r.filter = p; }

void take(forwarded_request& r, actors::account_batch& p) { p.items = std::move(r.accounts); }
void take(forwarded_request& r, actors::transfer_batch& p) { p.items = std::move(r.transfers); }
void take(forwarded_request& r, actors::account_ids& p) {
  for (const auto& id : r.ids)
    p.ids.push_back(account_id{id});
}
void take(forwarded_request& r, actors::transfer_ids& p) {
  for (const auto& id : r.ids)
    p.ids.push_back(transfer_id{id});
}
void take(forwarded_request& r, ledger::account_filter& p) { p = r.filter; }

// Answer -> reply (owner's side) and reply -> answer (sending side).
void put(forwarded_reply& r, actors::account_results&& x) { r.account_results = std::move(x.items); }
void put(forwarded_reply& r, actors::transfer_results&& x) { r.transfer_results = std::move(x.items); }
void put(forwarded_reply& r, actors::account_list&& x) { r.accounts = std::move(x.items); }
void put(forwarded_reply& r, actors::transfer_list&& x) { r.transfers = std::move(x.items); }
void put(forwarded_reply& r, actors::balance_list&& x) { r.balances = std::move(x.items); }

void take(forwarded_reply& r, actors::account_results& x) { x.items = std::move(r.account_results); }
void take(forwarded_reply& r, actors::transfer_results& x) { x.items = std::move(r.transfer_results); }
void take(forwarded_reply& r, actors::account_list& x) { x.items = std::move(r.accounts); }
void take(forwarded_reply& r, actors::transfer_list& x) { x.items = std::move(r.transfers); }
void take(forwarded_reply& r, actors::balance_list& x) { x.items = std::move(r.balances); }

// Builds a behavior with one handler per ledger call from `Handler<Atom>`, plus `extra` handlers.
template <template <class> class Handler, class Self, class... Extra>
caf::behavior ledger_behavior(Self* self, Extra... extra) {
  return caf::behavior{Handler<actors::create_accounts_atom>::make(self),
                       Handler<actors::create_transfers_atom>::make(self),
                       Handler<actors::lookup_accounts_atom>::make(self),
                       Handler<actors::lookup_transfers_atom>::make(self),
                       Handler<actors::account_transfers_atom>::make(self),
                       Handler<actors::account_balances_atom>::make(self),
                       std::move(extra)...};
}

std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

// ---------------------------------------------------------------------------------------------------------
// Peer link: one remote node (one incarnation at one address).

using done_fn = std::function<void(result<forwarded_reply>)>;

struct queued_call {
  forward_op op;
  std::string bytes;
  done_fn done;
};
struct sent_call {
  forward_op op;
  done_fn done;
};

struct peer_state {
  static inline const char* name = "peer_link";
  forwarding_config cfg;
  route_node peer;
  host_port address;
  caf::actor remote;  // the peer's forward endpoint (a proxy); null until connected
  bool connecting = false;
  std::chrono::steady_clock::time_point retry_after{};  // after a failed connection: fail fast until then
  std::deque<queued_call> queued;                        // waiting for the connection
  std::unordered_map<uint64_t, sent_call> in_flight;     // awaiting the peer's answer
  uint64_t next_id = 1;
};
using peer_self = caf::stateful_actor<peer_state>;

constexpr auto reconnect_pause = std::chrono::milliseconds(250);

void fail_all(peer_self* self, errc code) {
  auto& st = self->state;
  auto queued = std::move(st.queued);
  auto sent = std::move(st.in_flight);
  st.queued.clear();
  st.in_flight.clear();
  for (auto& q : queued)
    q.done(failure{code, {}});
  for (auto& [id, s] : sent)
    s.done(failure{code, {}});
}

void finish(peer_self* self, uint64_t id, const std::function<result<forwarded_reply>(forward_op)>& outcome) {
  auto& st = self->state;
  auto it = st.in_flight.find(id);
  if (it == st.in_flight.end())
    return;  // already failed (the peer went down first)
  auto call = std::move(it->second);
  st.in_flight.erase(it);
  call.done(outcome(call.op));
}

void send_now(peer_self* self, forward_op op, std::string bytes, done_fn done) {
  auto& st = self->state;
  if (st.in_flight.size() >= st.cfg.max_in_flight_per_peer) {
    done(failure{errc::overloaded, {}});
    return;
  }
  const uint64_t id = st.next_id++;
  st.in_flight.emplace(id, sent_call{op, std::move(done)});
  // A little longer than the owner's own deadline, so the owner's answer (e.g. timeout) arrives first.
  self->request(st.remote, st.cfg.request_timeout + std::chrono::milliseconds(1000), forward_atom::value,
                std::move(bytes))
      .then(
          [self, id](std::string& reply) {
            finish(self, id, [&](forward_op kind) { return wire::decode_reply(reply, kind); });
          },
          [self, id](caf::error& e) {
            // Timeout: the outcome is unknown (retry with the same ids). Anything else: the peer is gone.
            const errc code = e == caf::sec::request_timeout ? errc::timeout : errc::node_down;
            finish(self, id, [code](forward_op) { return result<forwarded_reply>(failure{code, {}}); });
          });
}

void connect(peer_self* self) {
  auto& st = self->state;
  if (st.connecting)
    return;
  st.connecting = true;
  auto& sys = self->system();
  auto mm = sys.has_openssl_manager() ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle();
  const auto connect_timeout = std::chrono::milliseconds(2000);
  self->request(mm, connect_timeout, caf::connect_atom::value, st.address.host, st.address.port)
      .then(
          [self](const caf::node_id&, caf::strong_actor_ptr& endpoint, const std::set<std::string>&) {
            auto& link = self->state;
            link.connecting = false;
            if (!endpoint) {
              link.cfg.log->warn("forwarding: {} at {} publishes no endpoint", link.peer.node_id, link.peer.cluster_address);
              link.retry_after = now() + reconnect_pause;
              fail_all(self, errc::node_down);
              return;
            }
            link.remote = caf::actor_cast<caf::actor>(endpoint);
            self->monitor(link.remote);
            link.cfg.log->info("forwarding: connected to {} (incarnation {}) at {}", link.peer.node_id, link.peer.incarnation,
                             link.peer.cluster_address);
            auto queued = std::move(link.queued);
            link.queued.clear();
            for (auto& q : queued)
              send_now(self, q.op, std::move(q.bytes), std::move(q.done));
          },
          [self](caf::error& e) {
            auto& link = self->state;
            link.connecting = false;
            link.cfg.log->warn("forwarding: cannot connect to {} at {}: {}", link.peer.node_id, link.peer.cluster_address,
                             caf::to_string(e));
            link.retry_after = now() + reconnect_pause;
            fail_all(self, errc::node_down);
          });
}

void submit(peer_self* self, forward_op op, std::string bytes, done_fn done) {
  auto& st = self->state;
  if (st.remote) {
    send_now(self, op, std::move(bytes), std::move(done));
    return;
  }
  if (now() < st.retry_after) {
    done(failure{errc::node_down, {}});  // it was unreachable a moment ago: answer at once, clients retry
    return;
  }
  if (st.queued.size() >= st.cfg.max_queued_per_peer) {
    done(failure{errc::overloaded, {}});
    return;
  }
  st.queued.push_back({op, std::move(bytes), std::move(done)});
  connect(self);
}

template <class Atom>
struct forward_to_peer {
  using call = ledger_call<Atom>;
  static auto make(peer_self* self) {
    return [self](Atom, caller& who, tenant_id t, typename call::payload& p) -> caf::response_promise {
      auto rp = self->make_response_promise();
      forwarded_request req;
      req.op = call::op;
      req.tenant = t;
      req.caller_tenant = who.tenant;
      req.caller_scopes = who.scopes;
      put(req, std::move(p));
      submit(self, call::op, wire::encode(req), [rp](result<forwarded_reply> r) mutable {
        if (!r.ok()) {
          rp.deliver(actors::to_error(r.error()));
        } else if (r->error != errc::none) {
          rp.deliver(caf::make_error(r->error));
        } else {
          typename call::reply out;
          take(*r, out);
          rp.deliver(std::move(out));
        }
      });
      return rp;
    };
  }
};

caf::behavior peer_link(peer_self* self, forwarding_config cfg, route_node peer, host_port address) {
  self->state.cfg = std::move(cfg);
  self->state.peer = std::move(peer);
  self->state.address = std::move(address);
  self->set_down_handler([self](caf::down_msg& m) {
    auto& st = self->state;
    if (!st.remote || m.source != st.remote.address())
      return;
    st.cfg.log->warn("forwarding: connection to {} lost ({}): failing {} requests in flight", st.peer.node_id,
                     caf::to_string(m.reason), st.in_flight.size());
    st.remote = nullptr;
    st.retry_after = now() + reconnect_pause;
    fail_all(self, errc::node_down);
  });
  self->set_exit_handler([self](caf::exit_msg& m) {
    // Replaced (the node restarted, moved or left): nothing pending may wait for its timeout.
    fail_all(self, errc::node_down);
    self->quit(std::move(m.reason));
  });
  return ledger_behavior<forward_to_peer>(self);
}

// ---------------------------------------------------------------------------------------------------------
// Router: local registry or the owner's peer link.

struct router_state {
  static inline const char* name = "router";
  forwarding_config cfg;
  std::optional<route_table> table;
  std::unordered_map<std::string, std::pair<route_node, caf::actor>> links;  // by node id
};
using router_self = caf::stateful_actor<router_state>;

result<caf::actor> link_to(router_self* self, const route_node& n) {
  auto& st = self->state;
  auto it = st.links.find(n.node_id);
  if (it != st.links.end() && it->second.first == n)
    return it->second.second;
  if (it != st.links.end()) {
    self->send_exit(it->second.second, caf::exit_reason::user_shutdown);
    st.links.erase(it);
  }
  auto address = parse_host_port(n.cluster_address, "cluster address");
  if (n.cluster_address.empty() || !address.ok())
    return failure{errc::node_down, "no cluster address for " + n.node_id};
  auto link = self->spawn(peer_link, st.cfg, n, address.value());
  st.links.emplace(n.node_id, std::make_pair(n, link));
  return link;
}

result<caf::actor> destination(router_self* self, tenant_id t) {
  auto& st = self->state;
  if (!st.table || st.cfg.shards == nullptr)
    return st.cfg.registry;  // no routes yet (start-up): the registry serves what it holds
  auto shard = st.cfg.shards->shard_of(t);  // its residency region is in the id
  if (!shard.ok())
    return shard.error();
  const auto& table = *st.table;
  const int32_t owner = shard.value() < table.owner.size() ? table.owner[shard.value()] : -1;
  if (owner < 0) {
    const auto& region = st.cfg.shards->region_of(shard.value());
    if (!region.empty() && std::none_of(table.nodes.begin(), table.nodes.end(),
                                        [&](const route_node& n) { return n.region == region; }))
      return failure{errc::region_unavailable, "no node of region '" + region + "' is up"};
    // Between owners (expired, released, not yet taken): the registry serves it if this node took it
    // since the table was read, and answers not_owner (retryable) otherwise.
    return st.cfg.registry;
  }
  const auto& node = table.nodes[static_cast<size_t>(owner)];
  if (node.node_id == st.cfg.node_id)
    return st.cfg.registry;
  return link_to(self, node);
}

template <class Atom>
struct route_call {
  using call = ledger_call<Atom>;
  static auto make(router_self* self) {
    return [self](Atom a, caller& who, tenant_id t, typename call::payload& p) -> caf::response_promise {
      auto rp = self->make_response_promise();
      auto dest = destination(self, t);
      if (dest.ok())
        rp.delegate(dest.value(), a, std::move(who), t, std::move(p));
      else
        rp.deliver(actors::to_error(dest.error()));
      return rp;
    };
  }
};

caf::behavior router(router_self* self, forwarding_config cfg) {
  self->state.cfg = std::move(cfg);
  // The node's shutdown: the peer links go with the router (they are not linked to it, because a replaced
  // link must not take the router down); otherwise they would keep the actor system, and the node, alive.
  self->set_exit_handler([self](caf::exit_msg& m) {
    for (auto& [id, link] : self->state.links)
      self->send_exit(link.second, m.reason);
    self->state.links.clear();
    self->quit(std::move(m.reason));
  });
  return ledger_behavior<route_call>(self, [self](routes_atom, route_table& t) {
    auto& st = self->state;
    // Links to nodes that left or changed (restarted, moved) go: their pending requests fail at once.
    for (auto it = st.links.begin(); it != st.links.end();) {
      bool still = std::any_of(t.nodes.begin(), t.nodes.end(),
                               [&](const route_node& n) { return n == it->second.first; });
      if (still) {
        ++it;
      } else {
        self->send_exit(it->second.second, caf::exit_reason::user_shutdown);
        it = st.links.erase(it);
      }
    }
    st.table = std::move(t);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Forward endpoint: the owner's side.

struct endpoint_state {
  static inline const char* name = "forward_endpoint";
  forwarding_config cfg;
};
using endpoint_self = caf::stateful_actor<endpoint_state>;

void reply_error(caf::response_promise& rp, forward_op op, errc code) {
  forwarded_reply r;
  r.op = op;
  r.error = code;
  rp.deliver(wire::encode(r));
}

template <class Atom>
void ask_registry(endpoint_self* self, caf::response_promise rp, forwarded_request& req) {
  using call = ledger_call<Atom>;
  typename call::payload payload;
  take(req, payload);
  caller who{req.caller_tenant, req.caller_scopes};
  self->request(self->state.cfg.registry, self->state.cfg.request_timeout + std::chrono::milliseconds(500),
                Atom::value, std::move(who), req.tenant, std::move(payload))
      .then(
          [rp](typename call::reply& r) mutable {
            forwarded_reply out;
            out.op = call::op;
            put(out, std::move(r));
            rp.deliver(wire::encode(out));
          },
          [rp](caf::error& e) mutable { reply_error(rp, call::op, actors::to_errc(e)); });
}

caf::behavior forward_endpoint(endpoint_self* self, forwarding_config cfg) {
  self->state.cfg = std::move(cfg);
  return {[self](forward_atom, const std::string& bytes) -> caf::response_promise {
    auto rp = self->make_response_promise();
    auto req = wire::decode_request(bytes);
    if (!req.ok()) {
      self->state.cfg.log->warn("forwarding: refused a malformed request from {}: {}",
                                caf::to_string(self->current_sender()), req.error().detail);
      reply_error(rp, forward_op::create_accounts, errc::invalid_request);
      return rp;
    }
    switch (req->op) {
      case forward_op::create_accounts: ask_registry<actors::create_accounts_atom>(self, rp, req.value()); break;
      case forward_op::create_transfers: ask_registry<actors::create_transfers_atom>(self, rp, req.value()); break;
      case forward_op::lookup_accounts: ask_registry<actors::lookup_accounts_atom>(self, rp, req.value()); break;
      case forward_op::lookup_transfers: ask_registry<actors::lookup_transfers_atom>(self, rp, req.value()); break;
      case forward_op::account_transfers: ask_registry<actors::account_transfers_atom>(self, rp, req.value()); break;
      case forward_op::account_balances: ask_registry<actors::account_balances_atom>(self, rp, req.value()); break;
    }
    return rp;
  }};
}

}  // namespace

caf::actor spawn_router(caf::actor_system& sys, forwarding_config cfg) { return sys.spawn(router, std::move(cfg)); }

caf::actor spawn_forward_endpoint(caf::actor_system& sys, forwarding_config cfg) {
  return sys.spawn(forward_endpoint, std::move(cfg));
}

result<void> open_peer_link(caf::actor_system& sys, const std::string& cluster_address,
                            std::chrono::milliseconds timeout) {
  auto address = parse_host_port(cluster_address, "cluster address");
  if (!address.ok())
    return failure{errc::node_down, address.error().detail};
  auto mm = sys.has_openssl_manager() ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle();
  caf::scoped_actor self{sys};
  result<void> out = failure{errc::node_down, "no answer"};
  self->request(mm, timeout, caf::connect_atom::value, address->host, address->port)
      .receive(
          [&](const caf::node_id&, caf::strong_actor_ptr& endpoint, const std::set<std::string>&) {
            if (!endpoint)
              out = failure{errc::node_down, "it publishes no endpoint"};
            else
              out = result<void>{};
          },
          [&](caf::error& e) { out = failure{errc::node_down, sys.render(e)}; });
  return out;
}

}  // namespace caudal::cluster
