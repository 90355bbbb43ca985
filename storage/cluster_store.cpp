// Membership and shard leases: every statement here is one round trip, and every time comes from
// PostgreSQL's clock_timestamp() (the real time of the statement, not of the transaction start).
//
// Concurrency: each write is a single UPDATE/INSERT whose WHERE states the rule (free or expired, this
// incarnation, not down). Under READ COMMITTED a writer blocked on a row another transaction changed
// re-checks its WHERE on the committed row, so two nodes racing for a lease cannot both win, and a
// heartbeat racing a declaration of death either lands first or is refused.
#include "storage/cluster_store.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "storage/security_store.hpp"

namespace caudal::storage {

namespace {

constexpr const char* create_settings_sql =
    "INSERT INTO cluster_settings (shard_count, transport) VALUES ($1::integer, $2) ON CONFLICT DO NOTHING "
    "RETURNING shard_count";
// A cluster created before 0006: the first node of this version records its transport (and anchors). The
// row lock makes two nodes doing it at once record one transport; the second one's UPDATE matches nothing.
constexpr const char* adopt_transport_sql =
    "UPDATE cluster_settings SET transport = $1 WHERE transport IS NULL RETURNING 1";
constexpr const char* create_anchor_sql = "INSERT INTO cluster_trust_anchors (sha256, subject) VALUES ($1, $2)";
constexpr const char* read_anchors_sql = "SELECT sha256, subject FROM cluster_trust_anchors ORDER BY sha256";
// The node's address as PostgreSQL sees this connection, "ip:port" like the audit rows of client
// connections ("[ip]:port" for IPv6), or "node" over a Unix socket (no address).
constexpr const char* client_address_sql =
    "SELECT coalesce(CASE WHEN family(inet_client_addr()) = 6 THEN '[' || host(inet_client_addr()) || ']' "
    "ELSE host(inet_client_addr()) END || ':' || inet_client_port(), 'node')";
constexpr const char* create_region_sql =
    "INSERT INTO cluster_regions (region, first_shard, shard_count, region_no) "
    "VALUES ($1, $2::integer, $3::integer, $4::integer)";
constexpr const char* create_rule_sql = "INSERT INTO residency_rules (country, region) VALUES ($1, $2)";
constexpr const char* read_rules_sql = "SELECT country, region FROM residency_rules ORDER BY country";
constexpr const char* create_leases_sql = "INSERT INTO shard_leases (shard) SELECT generate_series(0, $1::integer - 1)";
constexpr const char* read_settings_sql = "SELECT shard_count, coalesce(transport, '') FROM cluster_settings";
constexpr const char* read_regions_sql =
    "SELECT region, first_shard, shard_count, region_no FROM cluster_regions ORDER BY region";

constexpr const char* join_sql =
    "INSERT INTO cluster_members AS m (node_id, incarnation, cluster_address, rpc_address, metrics_address, region, "
    "state, joined_at, last_heartbeat) "
    "VALUES ($1, 1, $2, $3, $4, $5, 'joining', clock_timestamp(), clock_timestamp()) "
    "ON CONFLICT (node_id) DO UPDATE SET incarnation = m.incarnation + 1, cluster_address = EXCLUDED.cluster_address, "
    "rpc_address = EXCLUDED.rpc_address, metrics_address = EXCLUDED.metrics_address, region = EXCLUDED.region, "
    "state = 'joining', joined_at = EXCLUDED.joined_at, last_heartbeat = EXCLUDED.last_heartbeat "
    "RETURNING incarnation";

// A draining incarnation stays draining when asked to be up (see set_state).
constexpr const char* set_state_sql =
    "UPDATE cluster_members SET state = CASE WHEN state = 'draining' AND $3::text = 'up' THEN state "
    "ELSE $3::text END WHERE node_id = $1 AND incarnation = $2::bigint AND state <> 'down' RETURNING 1";

// The row is locked first (FOR UPDATE), so the state read as "before" is the one this UPDATE replaced; a
// member that is down is returned unchanged (refused by the caller), a missing one returns no row.
constexpr const char* drain_sql =
    "WITH old AS (SELECT node_id, incarnation, state FROM cluster_members WHERE node_id = $1 FOR UPDATE), "
    "upd AS (UPDATE cluster_members m SET state = 'draining' FROM old "
    "        WHERE m.node_id = old.node_id AND old.state IN ('joining', 'up') RETURNING m.node_id) "
    "SELECT incarnation, state FROM old";

// One statement: the heartbeat, and the renewal only if the heartbeat was accepted (EXISTS over the first
// CTE's RETURNING). The outer LEFT JOIN yields one row even when the node holds no lease.
// Lock order: every statement that writes lease rows locks them ascending by shard first, in a CTE. A
// renewal takes FOR NO KEY UPDATE (it changes expires_at only), which the group commit's FOR KEY SHARE
// does not wait for, nor it for the commit; a change of holder takes FOR UPDATE and waits for the commits
// that checked the lease (see ledger_commit.cpp).
constexpr const char* heartbeat_sql =
    "WITH me AS (UPDATE cluster_members SET last_heartbeat = clock_timestamp() "
    "            WHERE node_id = $1 AND incarnation = $2::bigint AND state <> 'down' RETURNING node_id), "
    "mine AS (SELECT shard FROM shard_leases WHERE owner_node = $1 AND owner_incarnation = $2::bigint "
    "         AND EXISTS (SELECT 1 FROM me) ORDER BY shard FOR NO KEY UPDATE), "
    "renewed AS (UPDATE shard_leases l SET expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond' "
    "            FROM mine WHERE l.shard = mine.shard RETURNING l.shard, l.epoch) "
    "SELECT (SELECT count(*) FROM me), r.shard, r.epoch FROM (SELECT 1) AS one LEFT JOIN renewed r ON true "
    "ORDER BY r.shard";

constexpr const char* declare_down_sql =
    "UPDATE cluster_members SET state = 'down' "
    "WHERE state <> 'down' AND last_heartbeat < clock_timestamp() - $1::bigint * interval '1 millisecond' "
    "RETURNING node_id, incarnation";

constexpr const char* list_members_sql =
    "SELECT node_id, incarnation, cluster_address, rpc_address, metrics_address, region, state, "
    "(extract(epoch FROM clock_timestamp() - last_heartbeat) * 1000)::bigint FROM cluster_members ORDER BY node_id";

// The candidates (free, expired, this incarnation's or an earlier incarnation's of this node; the member
// joining or up) are locked in
// shard order; a candidate another transaction changed meanwhile is re-checked on its new version and
// dropped if no longer free. The holder changes (epoch + 1) unless this incarnation holds it already; the
// SET expressions read the row as it was before this UPDATE.
constexpr const char* acquire_sql =
    "WITH candidates AS ("
    "  SELECT l.shard FROM shard_leases l WHERE l.shard = ANY($3::integer[]) "
    "    AND (l.owner_node IS NULL OR l.expires_at <= clock_timestamp() "
    "         OR (l.owner_node = $1 AND l.owner_incarnation <= $2::bigint)) "
    "    AND EXISTS (SELECT 1 FROM cluster_members m WHERE m.node_id = $1 AND m.incarnation = $2::bigint "
    "                AND m.state IN ('joining', 'up')) "
    "  ORDER BY l.shard FOR UPDATE OF l) "
    "UPDATE shard_leases l SET "
    "  epoch = CASE WHEN l.owner_node = $1 AND l.owner_incarnation = $2::bigint THEN l.epoch ELSE l.epoch + 1 END, "
    "  owner_node = $1, owner_incarnation = $2::bigint, "
    "  expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond' "
    "FROM candidates c WHERE l.shard = c.shard "
    "RETURNING l.shard, l.epoch";

constexpr const char* release_sql =
    "WITH mine AS (SELECT shard FROM shard_leases WHERE shard = ANY($3::integer[]) AND owner_node = $1 "
    "              AND owner_incarnation = $2::bigint ORDER BY shard FOR UPDATE) "
    "UPDATE shard_leases l SET owner_node = NULL, owner_incarnation = NULL, expires_at = clock_timestamp() "
    "FROM mine WHERE l.shard = mine.shard";

// A lease never taken expires at -infinity, which has no distance to now: shown as expired (-1 ms).
constexpr const char* list_leases_sql =
    "SELECT shard, owner_node, owner_incarnation, epoch, "
    "CASE WHEN isfinite(expires_at) THEN (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint "
    "ELSE -1 END FROM shard_leases ORDER BY shard";

uint64_t to_u64(const char* s) {
  return std::strtoull(s, nullptr, 10);
}
int64_t to_i64(const char* s) {
  return std::strtoll(s, nullptr, 10);
}

// A PostgreSQL array literal of integers: {1,2,3}.
std::string int_array(const std::vector<uint32_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0)
      s += ',';
    s += std::to_string(v[i]);
  }
  s += '}';
  return s;
}

std::optional<member_state> parse_state(const char* s) {
  for (auto st : {member_state::joining, member_state::up, member_state::draining, member_state::down})
    if (std::strcmp(s, member_state_name(st)) == 0)
      return st;
  return std::nullopt;
}

std::vector<held_lease> leases_of(const pg_rows& r, int shard_col, int epoch_col) {
  std::vector<held_lease> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i)
    if (!r.is_null(i, shard_col))
      out.push_back({static_cast<uint32_t>(to_u64(r.text(i, shard_col))), to_u64(r.text(i, epoch_col))});
  std::sort(out.begin(), out.end(), [](const held_lease& a, const held_lease& b) { return a.shard < b.shard; });
  return out;
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); });
}

result<void> check_trust(const cluster_trust& t) {
  switch (t.transport) {
    case transport_mode::unrecorded:
      return failure{errc::invalid_request, "cluster: a cluster needs a transport (mutual TLS or insecure)"};
    case transport_mode::insecure:
      if (!t.anchors.empty())
        return failure{errc::invalid_request, "cluster: an insecure cluster has no trust anchor"};
      return {};
    case transport_mode::mutual_tls:
      break;
  }
  if (t.anchors.empty())
    return failure{errc::invalid_request, "cluster: a mutual TLS cluster needs its CA's fingerprint"};
  for (size_t i = 0; i < t.anchors.size(); ++i) {
    if (!is_sha256_hex(t.anchors[i].sha256))
      return failure{errc::invalid_request, "cluster: trust anchor '" + t.anchors[i].sha256 +
                                                "' is not a SHA-256 fingerprint (64 lower-case hex digits)"};
    for (size_t j = 0; j < i; ++j)
      if (t.anchors[j].sha256 == t.anchors[i].sha256)
        return failure{errc::invalid_request, "cluster: trust anchor sha256:" + t.anchors[i].sha256 + " given twice"};
  }
  return {};
}

std::optional<transport_mode> parse_transport(const std::string& s) {
  for (auto m : {transport_mode::unrecorded, transport_mode::mutual_tls, transport_mode::insecure})
    if (s == (m == transport_mode::unrecorded ? "" : transport_name(m)))
      return m;
  return std::nullopt;
}

// What the creation audit row says about the cluster: every setting, no secret (fingerprints are public).
std::string describe_shape(const cluster_shape& s) {
  std::string d = "shards=" + std::to_string(s.shard_count) + " regions=";
  for (size_t i = 0; i < s.regions.size(); ++i) {
    const auto& r = s.regions[i];
    d += (i > 0 ? "," : "") + r.region + ":" + std::to_string(r.first_shard) + "+" + std::to_string(r.shard_count);
  }
  d += s.regions.empty() ? "none residency=" : " residency=";
  for (size_t i = 0; i < s.residency.size(); ++i)
    d += (i > 0 ? "," : "") + s.residency[i].country + ":" + s.residency[i].region;
  if (s.residency.empty())
    d += "none";
  d += " transport=" + describe_trust(s.trust);
  // The audit detail stays readable; thousands of residency rules are in their table anyway.
  constexpr size_t max_detail = 4000;
  return d.size() > max_detail ? d.substr(0, max_detail) + "..." : d;
}

result<void> check_shape(const cluster_shape& s) {
  if (s.shard_count < 1 || s.shard_count > 65536)
    return failure{errc::invalid_request, "cluster: shard count must be 1..65536"};
  if (auto t = check_trust(s.trust); !t.ok())
    return t;
  auto regions = s.regions;
  std::sort(regions.begin(), regions.end(),
            [](const region_shards& a, const region_shards& b) { return a.first_shard < b.first_shard; });
  uint64_t regional = 0;
  for (size_t i = 0; i < regions.size(); ++i) {
    const auto& r = regions[i];
    if (r.region.empty() || r.shard_count == 0 || uint64_t{r.first_shard} + r.shard_count > s.shard_count)
      return failure{errc::invalid_request, "cluster: region '" + r.region + "' needs a non-empty range of shards"};
    if (i > 0 && regions[i - 1].first_shard + regions[i - 1].shard_count > r.first_shard)
      return failure{errc::invalid_request,
                     "cluster: regions '" + regions[i - 1].region + "' and '" + r.region + "' overlap"};
    regional += r.shard_count;
  }
  // Tenants without a residency region need somewhere to go.
  if (regional >= s.shard_count)
    return failure{errc::invalid_request, "cluster: the regions leave no global shard"};
  if (s.regions.size() > 32767)
    return failure{errc::invalid_request, "cluster: at most 32767 regions"};
  for (size_t i = 0; i < s.regions.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (s.regions[i].region == s.regions[j].region)
        return failure{errc::invalid_request, "cluster: region '" + s.regions[i].region + "' named twice"};
  for (size_t i = 0; i < s.residency.size(); ++i) {
    const auto& rule = s.residency[i];
    const bool country_ok = rule.country.size() == 2 && std::isupper(static_cast<unsigned char>(rule.country[0])) &&
                            std::isupper(static_cast<unsigned char>(rule.country[1]));
    if (!country_ok)
      return failure{errc::invalid_request, "cluster: residency country '" + rule.country + "' is not two capitals"};
    if (std::none_of(s.regions.begin(), s.regions.end(),
                     [&](const region_shards& r) { return r.region == rule.region; }))
      return failure{errc::invalid_request, "cluster: residency of " + rule.country + " names region '" + rule.region +
                                                "', which has no shards"};
    for (size_t j = 0; j < i; ++j)
      if (s.residency[j].country == rule.country)
        return failure{errc::invalid_request, "cluster: residency of " + rule.country + " given twice"};
  }
  return {};
}

result<cluster_shape> read_shape(pg_connection& c) {
  auto settings = c.query(read_settings_sql, {});
  if (!settings.ok())
    return settings.error();
  if (settings->size() != 1)
    return failure{errc::internal, "cluster: no cluster_settings row"};
  cluster_shape s;
  s.shard_count = static_cast<uint32_t>(to_u64(settings->text(0, 0)));
  auto transport = parse_transport(settings->text(0, 1));
  if (!transport)
    return failure{errc::internal, std::string("cluster: unknown transport ") + settings->text(0, 1)};
  s.trust.transport = *transport;
  auto anchors = c.query(read_anchors_sql, {});
  if (!anchors.ok())
    return anchors.error();
  for (int i = 0; i < anchors->size(); ++i)
    s.trust.anchors.push_back({anchors->text(i, 0), anchors->text(i, 1)});
  auto regions = c.query(read_regions_sql, {});
  if (!regions.ok())
    return regions.error();
  for (int i = 0; i < regions->size(); ++i)
    s.regions.push_back({regions->text(i, 0), static_cast<uint32_t>(to_u64(regions->text(i, 1))),
                         static_cast<uint32_t>(to_u64(regions->text(i, 2))),
                         static_cast<uint32_t>(to_u64(regions->text(i, 3)))});
  auto rules = c.query(read_rules_sql, {});
  if (!rules.ok())
    return rules.error();
  for (int i = 0; i < rules->size(); ++i)
    s.residency.push_back({rules->text(i, 0), rules->text(i, 1)});
  return s;
}

result<void> record_anchors(pg_connection& c, const cluster_trust& t) {
  for (const auto& a : t.anchors)
    if (auto q = c.query(create_anchor_sql, {a.sha256.c_str(), a.subject.c_str()}); !q.ok())
      return q.error();
  return {};
}

// A cluster created before 0006 gets the trust of the first node of this version to start (recorded once).
result<void> adopt_trust(pg_connection& c, const cluster_shape& wanted, const std::string& node_id) {
  auto adopted = c.query(adopt_transport_sql, {transport_name(wanted.trust.transport)});
  if (!adopted.ok())
    return adopted.error();
  if (adopted->size() == 0)
    return {};  // recorded already
  if (auto a = record_anchors(c, wanted.trust); !a.ok())
    return a;
  return audit_node_event(c, node_id, "config.trust_anchor_recorded", "ok",
                          "transport=" + describe_trust(wanted.trust) + " (cluster created before trust anchors)");
}

// The creating transaction's statements; the caller commits or rolls back.
result<void> create_cluster(pg_connection& c, const cluster_shape& wanted, const std::string& node_id) {
  const std::string count = std::to_string(wanted.shard_count);
  // A second node creating at the same time waits here on the first one's row, then inserts nothing.
  auto created = c.query(create_settings_sql, {count.c_str(), transport_name(wanted.trust.transport)});
  if (!created.ok())
    return created.error();
  if (created->size() == 0)
    return adopt_trust(c, wanted, node_id);  // it existed
  if (auto a = record_anchors(c, wanted.trust); !a.ok())
    return a;
  for (size_t i = 0; i < wanted.regions.size(); ++i) {
    const auto& r = wanted.regions[i];
    const std::string first = std::to_string(r.first_shard), n = std::to_string(r.shard_count),
                      no = std::to_string(r.number != 0 ? r.number : i + 1);
    if (auto q = c.query(create_region_sql, {r.region.c_str(), first.c_str(), n.c_str(), no.c_str()}); !q.ok())
      return q.error();
  }
  for (const auto& rule : wanted.residency)
    if (auto q = c.query(create_rule_sql, {rule.country.c_str(), rule.region.c_str()}); !q.ok())
      return q.error();
  if (auto q = c.query(create_leases_sql, {count.c_str()}); !q.ok())
    return q.error();
  // In the creating transaction: the cluster exists if and only if its creation is audited.
  return audit_node_event(c, node_id, "config.cluster_created", "ok", describe_shape(wanted));
}

}  // namespace

const char* member_state_name(member_state s) {
  switch (s) {
    case member_state::joining:
      return "joining";
    case member_state::up:
      return "up";
    case member_state::draining:
      return "draining";
    case member_state::down:
      return "down";
  }
  return "down";
}

const char* transport_name(transport_mode m) {
  switch (m) {
    case transport_mode::unrecorded:
      return "unrecorded";
    case transport_mode::mutual_tls:
      return "mutual_tls";
    case transport_mode::insecure:
      return "insecure";
  }
  return "unrecorded";
}

std::string describe_trust(const cluster_trust& t) {
  switch (t.transport) {
    case transport_mode::unrecorded:
      return "not recorded";
    case transport_mode::insecure:
      return "insecure (plain TCP)";
    case transport_mode::mutual_tls:
      break;
  }
  std::string s = "mutual TLS, CA ";
  for (size_t i = 0; i < t.anchors.size(); ++i)
    s += (i > 0 ? ", " : "") + std::string("sha256:") + t.anchors[i].sha256 + " (" + t.anchors[i].subject + ")";
  return s;
}

result<void> audit_node_event(pg_connection& c, const std::string& node_id, const std::string& action,
                              const std::string& outcome, const std::string& detail) {
  auto source = c.query(client_address_sql, {});
  if (!source.ok())
    return source.error();
  audit_event e;
  e.client_id = node_id;
  e.source = source->text(0, 0);
  e.action = action;
  e.outcome = outcome;
  e.detail = detail;
  return insert_audit(c, e);
}

result<std::optional<cluster_shape>> read_cluster(pg_connection& c) {
  auto exists = c.query("SELECT count(*) FROM cluster_settings", {});
  if (!exists.ok())
    return exists.error();
  if (to_u64(exists->text(0, 0)) == 0)
    return std::optional<cluster_shape>{};
  auto shape = read_shape(c);
  if (!shape.ok())
    return shape.error();
  return std::optional<cluster_shape>{std::move(shape.value())};
}

result<cluster_shape> ensure_cluster(pg_connection& c, const cluster_shape& wanted, const std::string& node_id) {
  if (auto ok = check_shape(wanted); !ok.ok())
    return ok.error();
  if (auto b = c.exec("BEGIN"); !b.ok())
    return b.error();
  auto created = create_cluster(c, wanted, node_id);
  auto done = created.ok() ? c.exec("COMMIT") : created;
  if (!done.ok()) {
    if (c.healthy())
      (void)c.exec("ROLLBACK");
    return done.error();
  }
  return read_shape(c);
}

result<member_identity> join(pg_connection& c, const std::string& node_id, const member_addresses& addresses,
                             const std::string& region) {
  auto r = c.query(join_sql, {node_id.c_str(), addresses.cluster.c_str(), addresses.rpc.c_str(),
                              addresses.metrics.c_str(), region.c_str()});
  if (!r.ok())
    return r.error();
  return member_identity{node_id, to_u64(r->text(0, 0))};
}

result<void> set_state(pg_connection& c, const member_identity& me, member_state state) {
  // joining is where join() puts a node; going back to it would hide a restart.
  if (state == member_state::joining)
    return failure{errc::invalid_request, "cluster: a member cannot go back to joining"};
  const std::string inc = std::to_string(me.incarnation);
  auto r = c.query(set_state_sql, {me.node_id.c_str(), inc.c_str(), member_state_name(state)});
  if (!r.ok())
    return r.error();
  if (r->size() == 0)
    return failure{errc::node_down, "cluster: " + me.node_id + " incarnation " + inc + " is down or superseded"};
  return {};
}

result<drained_member> drain_member(pg_connection& c, const std::string& node_id) {
  auto r = c.query(drain_sql, {node_id.c_str()});
  if (!r.ok())
    return r.error();
  if (r->size() == 0)
    return failure{errc::node_not_found, "cluster: no member " + node_id};
  drained_member d;
  d.id = {node_id, to_u64(r->text(0, 0))};
  auto was = parse_state(r->text(0, 1));
  if (!was)
    return failure{errc::internal, std::string("cluster: unknown member state ") + r->text(0, 1)};
  d.was = *was;
  if (d.was == member_state::down)
    return failure{errc::node_down,
                   "cluster: " + node_id + " incarnation " + std::to_string(d.id.incarnation) + " is down"};
  return d;
}

result<std::vector<held_lease>> heartbeat(pg_connection& c, const member_identity& me, uint32_t lease_ms) {
  const std::string inc = std::to_string(me.incarnation), ms = std::to_string(lease_ms);
  auto r = c.query(heartbeat_sql, {me.node_id.c_str(), inc.c_str(), ms.c_str()});
  if (!r.ok())
    return r.error();
  if (r->size() == 0 || to_u64(r->text(0, 0)) == 0)
    return failure{errc::node_down, "cluster: " + me.node_id + " incarnation " + inc + " is down or superseded"};
  return leases_of(r.value(), 1, 2);
}

result<std::vector<member_identity>> declare_silent_down(pg_connection& c, uint32_t silent_after_ms) {
  const std::string ms = std::to_string(silent_after_ms);
  auto r = c.query(declare_down_sql, {ms.c_str()});
  if (!r.ok())
    return r.error();
  std::vector<member_identity> out;
  for (int i = 0; i < r->size(); ++i)
    out.push_back({r->text(i, 0), to_u64(r->text(i, 1))});
  std::sort(out.begin(), out.end(),
            [](const member_identity& a, const member_identity& b) { return a.node_id < b.node_id; });
  return out;
}

result<std::vector<member>> list_members(pg_connection& c) {
  auto r = c.query(list_members_sql, {});
  if (!r.ok())
    return r.error();
  std::vector<member> out;
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    member m;
    m.id = {r->text(i, 0), to_u64(r->text(i, 1))};
    m.addresses = {r->text(i, 2), r->text(i, 3), r->text(i, 4)};
    m.region = r->text(i, 5);
    auto st = parse_state(r->text(i, 6));
    if (!st)
      return failure{errc::internal, std::string("cluster: unknown member state ") + r->text(i, 6)};
    m.state = *st;
    m.heartbeat_age_ms = to_i64(r->text(i, 7));
    out.push_back(std::move(m));
  }
  return out;
}

result<std::vector<held_lease>> acquire_leases(pg_connection& c, const member_identity& me,
                                               const std::vector<uint32_t>& shards, uint32_t lease_ms) {
  if (shards.empty())
    return std::vector<held_lease>{};
  const std::string inc = std::to_string(me.incarnation), arr = int_array(shards), ms = std::to_string(lease_ms);
  auto r = c.query(acquire_sql, {me.node_id.c_str(), inc.c_str(), arr.c_str(), ms.c_str()});
  if (!r.ok())
    return r.error();
  return leases_of(r.value(), 0, 1);
}

result<size_t> release_leases(pg_connection& c, const member_identity& me, const std::vector<uint32_t>& shards) {
  if (shards.empty())
    return size_t{0};
  const std::string inc = std::to_string(me.incarnation), arr = int_array(shards);
  auto r = c.query(release_sql, {me.node_id.c_str(), inc.c_str(), arr.c_str()});
  if (!r.ok())
    return r.error();
  const char* n = PQcmdTuples(r->raw());
  return static_cast<size_t>(n != nullptr && *n != '\0' ? to_u64(n) : 0);
}

result<std::vector<shard_lease>> list_leases(pg_connection& c) {
  auto r = c.query(list_leases_sql, {});
  if (!r.ok())
    return r.error();
  std::vector<shard_lease> out;
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    shard_lease l;
    l.shard = static_cast<uint32_t>(to_u64(r->text(i, 0)));
    if (!r->is_null(i, 1))
      l.owner = member_identity{r->text(i, 1), to_u64(r->text(i, 2))};
    l.epoch = to_u64(r->text(i, 3));
    l.expires_in_ms = to_i64(r->text(i, 4));
    out.push_back(std::move(l));
  }
  return out;
}

result<caudal::cluster_status> cluster_status(pg_connection& c) {
  // One snapshot, so the members' shard counts and the summary agree.
  if (auto b = c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !b.ok())
    return b.error();
  auto fail = [&](const failure& f) -> result<caudal::cluster_status> {
    if (c.healthy())
      (void)c.exec("ROLLBACK");
    return f;
  };
  caudal::cluster_status s;
  auto settings = c.query(
      "SELECT coalesce((SELECT shard_count FROM cluster_settings), 0), "
      "(SELECT count(*) FROM shard_leases WHERE owner_node IS NOT NULL "
      " AND expires_at > clock_timestamp())",
      {});
  if (!settings.ok())
    return fail(settings.error());
  s.shard_count = static_cast<uint32_t>(to_u64(settings->text(0, 0)));
  s.shards_owned = static_cast<uint32_t>(to_u64(settings->text(0, 1)));
  s.shards_unowned = s.shard_count - std::min(s.shard_count, s.shards_owned);
  auto members = list_members(c);
  if (!members.ok())
    return fail(members.error());
  // Leases count for the member's current incarnation only (an older incarnation's are not its own).
  auto counts = c.query(
      "SELECT owner_node, owner_incarnation, count(*) FROM shard_leases "
      "WHERE owner_node IS NOT NULL AND expires_at > clock_timestamp() "
      "GROUP BY owner_node, owner_incarnation",
      {});
  if (!counts.ok())
    return fail(counts.error());
  for (const auto& m : members.value()) {
    caudal::cluster_node_status n;
    n.id = m.id.node_id;
    n.incarnation = m.id.incarnation;
    n.rpc_address = m.addresses.rpc;
    n.cluster_address = m.addresses.cluster;
    n.metrics_address = m.addresses.metrics;
    n.region = m.region;
    n.state = member_state_name(m.state);
    n.heartbeat_age_ms = m.heartbeat_age_ms;
    for (int i = 0; i < counts->size(); ++i)
      if (n.id == counts->text(i, 0) && n.incarnation == to_u64(counts->text(i, 1)))
        n.shards = static_cast<uint32_t>(to_u64(counts->text(i, 2)));
    s.nodes.push_back(std::move(n));
  }
  if (auto done = c.exec("COMMIT"); !done.ok())
    return fail(done.error());
  return s;
}

}  // namespace caudal::storage
