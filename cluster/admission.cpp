#include "cluster/admission.hpp"

#include <algorithm>
#include <optional>
#include <thread>

#include "security/trust_anchor.hpp"

namespace caudal::cluster {

namespace {

// At most this many peers are dialled per round (each dial may wait for its timeout).
constexpr size_t max_peers_per_round = 4;

// The same set of fingerprints, whatever the order (subjects only describe).
bool same_anchors(const std::vector<storage::trust_anchor>& a, const std::vector<storage::trust_anchor>& b) {
  auto fingerprints = [](const std::vector<storage::trust_anchor>& v) {
    std::vector<std::string> out;
    for (const auto& x : v)
      out.push_back(x.sha256);
    std::sort(out.begin(), out.end());
    return out;
  };
  return fingerprints(a) == fingerprints(b);
}

std::string cas_of(const storage::cluster_trust& t) {
  std::string s;
  for (const auto& a : t.anchors)
    s += (s.empty() ? "" : ", ") + std::string("sha256:") + a.sha256 + " (" + a.subject + ")";
  return s.empty() ? std::string("none") : s;
}

failure refuse(storage::pg_connection& c, const std::string& node_id, const std::string& why, spdlog::logger& log) {
  // The refusal is recorded even though the node goes no further; a failed audit write does not admit it.
  if (auto a = storage::audit_node_event(c, node_id, "cluster.join_refused", "forbidden", why); !a.ok())
    log.error("cluster: cannot write the audit row of this refusal: {}", a.error().detail);
  return failure{errc::forbidden, why};
}

bool live_peer(const storage::member& m, const std::string& me, const lease_timing& timing) {
  return m.id.node_id != me && m.state != storage::member_state::down && !m.addresses.cluster.empty() &&
         m.heartbeat_age_ms < static_cast<int64_t>(timing.silent_after_ms);
}

}  // namespace

result<node_credentials> read_credentials(const node_config& cfg) {
  node_credentials n;
  n.node_id = cfg.node_id;
  if (cfg.insecure) {
    n.trust.transport = storage::transport_mode::insecure;
    return n;
  }
  n.trust.transport = storage::transport_mode::mutual_tls;
  n.ca_file = cfg.tls_ca_file;
  n.cert_file = cfg.tls_cert_file;
  auto cas = security::read_ca_fingerprints(cfg.tls_ca_file);
  if (!cas.ok())
    return cas.error();
  for (const auto& ca : cas.value())
    n.trust.anchors.push_back({ca.sha256, ca.subject});
  auto check = security::check_node_certificate(cfg.tls_cert_file, cfg.tls_ca_file);
  if (!check.ok())
    return check.error();
  n.cert_subject = check->subject;
  n.cert_error = check->error;
  return n;
}

result<void> check_admission(const storage::cluster_trust& cluster, const node_credentials& node) {
  using storage::transport_mode;
  const bool node_tls = node.trust.transport == transport_mode::mutual_tls;
  if (cluster.transport == transport_mode::insecure && node_tls)
    return failure{errc::forbidden,
                   "the cluster was created insecure (plain TCP between nodes) and this node uses mutual TLS (CA " +
                       cas_of(node.trust) +
                       "): nodes of one cluster never mix the two; start it with --insecure, or use a cluster "
                       "created with TLS"};
  if (cluster.transport == transport_mode::mutual_tls && !node_tls)
    return failure{errc::forbidden, "the cluster was created with mutual TLS (CA " + cas_of(cluster) +
                                        ") and this node is --insecure: give it tls.cert_file, tls.key_file and "
                                        "tls.ca_file of the cluster CA"};
  if (cluster.transport == transport_mode::mutual_tls && !same_anchors(cluster.anchors, node.trust.anchors))
    return failure{errc::forbidden, "tls.ca_file '" + node.ca_file + "' holds CA " + cas_of(node.trust) +
                                        " but the cluster's CA is " + cas_of(cluster) +
                                        ": a node must trust exactly the cluster CA"};
  // Its CA file is the cluster's (or the cluster has none recorded yet), so verifying against the file is
  // verifying against the cluster CA.
  if (node_tls && !node.cert_error.empty())
    return failure{errc::forbidden, "tls.cert_file '" + node.cert_file + "' (" + node.cert_subject +
                                        ") does not verify against the cluster CA " +
                                        cas_of(cluster.transport == transport_mode::mutual_tls ? cluster : node.trust) +
                                        ": " + node.cert_error};
  return {};
}

result<storage::cluster_shape> admit_node(storage::pg_connection& c, storage::cluster_shape wanted,
                                          const node_credentials& node, spdlog::logger& log) {
  wanted.trust = node.trust;
  std::optional<storage::cluster_shape> shape;
  if (node.cert_error.empty()) {
    auto ensured = storage::ensure_cluster(c, wanted, node.node_id);
    if (!ensured.ok())
      return ensured.error();
    shape = std::move(ensured.value());
  } else {
    // Its certificate is not its own CA's: it must not create a cluster with that CA, only be refused.
    auto read = storage::read_cluster(c);
    if (!read.ok())
      return read.error();
    shape = std::move(read.value());
  }
  const storage::cluster_trust recorded = shape ? shape->trust : storage::cluster_trust{};
  if (auto admitted = check_admission(recorded, node); !admitted.ok())
    return refuse(c, node.node_id, admitted.error().detail, log);
  if (!shape)  // only a node whose certificate does not verify reads no cluster, and it was refused above
    return failure{errc::internal, "cluster: admitted without a cluster"};
  log.info("cluster: admitted: {}", storage::describe_trust(shape->trust));
  return std::move(*shape);
}

std::chrono::milliseconds peer_link_limit(const lease_timing& timing) {
  return std::max(std::chrono::milliseconds(3 * uint64_t{timing.silent_after_ms}), std::chrono::milliseconds(10000));
}

result<std::string> prove_peer_link(storage::pg_connection& c, const std::string& node_id, const lease_timing& timing,
                                    const peer_probe& probe, spdlog::logger& log) {
  const auto limit = peer_link_limit(timing);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string last;  // the last failure: which peer, why
  for (size_t round = 0;; ++round) {
    auto members = storage::list_members(c);
    if (!members.ok())
      return members.error();
    std::vector<const storage::member*> peers;
    for (const auto& m : members.value())
      if (live_peer(m, node_id, timing))
        peers.push_back(&m);
    if (peers.empty()) {
      if (!last.empty())
        log.info("cluster: no live peer left to link to (the last ones went silent)");
      return std::string{};
    }
    // A different first peer each round, so one dead peer that is not silent yet does not hide the others.
    for (size_t i = 0; i < std::min(peers.size(), max_peers_per_round); ++i) {
      const auto& p = *peers[(round * max_peers_per_round + i) % peers.size()];
      auto linked = probe(p);
      if (linked.ok()) {
        log.info("cluster: link to {} at {} proven before taking leases", p.id.node_id, p.addresses.cluster);
        return p.id.node_id;
      }
      last = p.id.node_id + " at " + p.addresses.cluster + ": " + linked.error().detail;
      // Once at warning level: the refusal at the deadline says it again.
      log.log(round == 0 ? spdlog::level::warn : spdlog::level::debug, "cluster: no link yet to {}", last);
    }
    if (std::chrono::steady_clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(timing.heartbeat_ms));
  }
  return refuse(c, node_id,
                "no link to any live peer over the cluster port within " + std::to_string(limit.count()) +
                    " ms (last: " + last + "): its shards would be unreachable from the other nodes",
                log);
}

}  // namespace caudal::cluster
