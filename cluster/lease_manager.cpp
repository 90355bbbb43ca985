#include "cluster/lease_manager.hpp"

#include <algorithm>
#include <chrono>

#include "actors/protocol.hpp"

namespace caudal::cluster {

namespace {

bool is_live(storage::member_state s) {
  // Draining members keep what they hold until they hand it over, but get no new shards.
  return s == storage::member_state::joining || s == storage::member_state::up;
}

std::string shard_list(const std::vector<storage::held_lease>& leases) {
  std::string s;
  for (const auto& l : leases) {
    if (!s.empty())
      s += ',';
    s += std::to_string(l.shard) + "@" + std::to_string(l.epoch);
  }
  return s.size() > 200 ? s.substr(0, 200) + "..." : s;
}

}  // namespace

result<std::vector<storage::held_lease>> lease_round(storage::pg_connection& c, const placement& p, membership& m,
                                                     const lease_timing& timing, spdlog::logger& log,
                                                     std::vector<uint32_t>* to_hand_off,
                                                     std::vector<storage::member>* members_seen) {
  std::vector<storage::held_lease> held;
  auto renewed = storage::heartbeat(c, m.me, timing.lease_ms);
  if (renewed.ok()) {
    held = std::move(renewed.value());
  } else if (renewed.error().code == errc::node_down) {
    // Declared down (we were silent too long) or superseded: this incarnation's leases are no longer
    // renewed and other nodes may take them. Start over as a new incarnation, holding nothing.
    log.warn("cluster: {} incarnation {} was declared down; rejoining", m.me.node_id, m.me.incarnation);
    auto again = storage::join(c, m.me.node_id, m.addresses, m.region);
    if (!again.ok())
      return again.error();
    m.me = again.value();
    if (auto up = storage::set_state(c, m.me, storage::member_state::up); !up.ok())
      return up.error();
    log.info("cluster: rejoined as incarnation {}", m.me.incarnation);
  } else {
    return renewed.error();
  }

  auto down = storage::declare_silent_down(c, timing.silent_after_ms);
  if (!down.ok())
    return down.error();
  for (const auto& d : down.value())
    log.warn("cluster: {} (incarnation {}) silent for {} ms: declared down", d.node_id, d.incarnation,
             timing.silent_after_ms);

  auto members = storage::list_members(c);
  if (!members.ok())
    return members.error();
  std::vector<placement_node> live;
  for (const auto& mem : members.value())
    if (is_live(mem.state))
      live.push_back({mem.id.node_id, mem.region});
  const auto owners = p.owners(live);
  std::vector<uint32_t> missing;
  for (uint32_t s = 0; s < p.shard_count(); ++s)
    if (owners[s] && live[*owners[s]].node_id == m.me.node_id &&
        std::none_of(held.begin(), held.end(), [s](const storage::held_lease& l) { return l.shard == s; }))
      missing.push_back(s);
  if (to_hand_off != nullptr) {
    // Another live node should own it. A shard no live node may own (its region has none) stays here.
    to_hand_off->clear();
    for (const auto& l : held)
      if (owners[l.shard] && live[*owners[l.shard]].node_id != m.me.node_id)
        to_hand_off->push_back(l.shard);
  }
  if (!missing.empty()) {
    // Only free, expired, or our previous incarnation's leases are granted; the rest stay with their holders.
    auto got = storage::acquire_leases(c, m.me, missing, timing.lease_ms);
    if (!got.ok())
      return got.error();
    held.insert(held.end(), got->begin(), got->end());
    std::sort(held.begin(), held.end(),
              [](const storage::held_lease& a, const storage::held_lease& b) { return a.shard < b.shard; });
  }
  if (members_seen != nullptr)
    *members_seen = std::move(members.value());
  return held;
}

result<cluster_start> join_cluster(storage::pg_connection& c, const placement& p, const std::string& node_id,
                                   const std::string& region, const storage::member_addresses& addresses,
                                   const lease_timing& timing, spdlog::logger& log) {
  auto joined = storage::join(c, node_id, addresses, region);
  if (!joined.ok())
    return joined.error();
  cluster_start s;
  s.self = membership{joined.value(), region, addresses};
  if (auto up = storage::set_state(c, s.self.me, storage::member_state::up); !up.ok())
    return up.error();
  auto leases = lease_round(c, p, s.self, timing, log);
  if (!leases.ok())
    return leases.error();
  s.leases = std::move(leases.value());
  log.info("cluster: joined as {} incarnation {} (region {}), holding {} of {} shards", node_id, s.self.me.incarnation,
           region, s.leases.size(), p.shard_count());
  return s;
}

namespace {

class manager {
 public:
  manager(caf::blocking_actor* self, lease_manager_config cfg)
      : self_(self), cfg_(std::move(cfg)), me_(cfg_.start.self), held_(cfg_.start.leases), published_(held_) {
    // The leases join_cluster took were renewed just now.
    renewed_at_ = std::chrono::steady_clock::now();
  }

  void run() {
    bool running = true;
    while (running) {
      self_->receive([&](actors::stop_atom) { running = false; },
                     [&](caf::exit_msg& m) {
                       running = false;
                       self_->fail_state(std::move(m.reason));
                     },
                     caf::after(std::chrono::milliseconds(cfg_.timing.heartbeat_ms)) >> [&] { round(); });
    }
    leave();
  }

 private:
  bool connected() {
    if (conn_ && conn_->healthy())
      return true;
    if (conn_ && conn_->reconnect().ok())
      return true;
    auto c = storage::pg_connection::open(cfg_.pg_url, "caudal-leases");
    if (!c.ok()) {
      cfg_.log->error("cluster: cannot connect to PostgreSQL: {}", c.error().detail);
      return false;
    }
    conn_ = std::move(c.value());
    return true;
  }

  void round() {
    // Measured from before the heartbeat is sent: PostgreSQL set the expiry later than this, so a lease
    // is certainly valid until renewed_at_ + lease_ms.
    const auto started = std::chrono::steady_clock::now();
    bool renewed = false;
    if (connected()) {
      std::vector<uint32_t> to_hand_off;
      std::vector<storage::member> members;
      auto r = lease_round(*conn_, *cfg_.shards, me_, cfg_.timing, *cfg_.log, &to_hand_off, &members);
      if (r.ok()) {
        held_ = std::move(r.value());
        renewed_at_ = started;
        renewed = true;
        hand_off(to_hand_off);
        publish_routes(members);
      } else {
        cfg_.log->error("cluster: lease round failed ({}): {}", errc_name(r.error().code), r.error().detail);
      }
    }
    // No renewal for a whole lease: another node may own our shards by now. Stop serving them (commits
    // would be refused by the fence anyway; this answers clients sooner). Only after failed rounds: a round
    // that succeeded but waited long (its UPDATE queues behind open commits holding the lease rows) renewed
    // the leases when it ran, later than `started`.
    if (!renewed && !held_.empty() &&
        std::chrono::steady_clock::now() - renewed_at_ >= std::chrono::milliseconds(cfg_.timing.lease_ms)) {
      cfg_.log->error("cluster: leases not renewed for {} ms: giving up {} shards", cfg_.timing.lease_ms, held_.size());
      held_.clear();
    }
    publish();
  }

  // Asks the registry to quiesce `shards` (an empty list after a non-empty one clears its moving set) and
  // releases the leases of those it reports quiet. One question per round: shards with requests still in
  // progress are asked again next round.
  void hand_off(const std::vector<uint32_t>& shards) {
    if (shards.empty() && !handing_off_)
      return;
    handing_off_ = !shards.empty();
    std::vector<uint32_t> quiet;
    self_
        ->request(cfg_.registry, std::chrono::milliseconds(cfg_.timing.heartbeat_ms), actors::handoff_atom::value,
                  actors::shard_list{shards})
        .receive(
            [&](actors::shard_list& q) { quiet = std::move(q.shards); },
            [&](caf::error& e) { cfg_.log->warn("cluster: hand-off question unanswered: {}", caf::to_string(e)); });
    if (quiet.empty())
      return;
    auto released = storage::release_leases(*conn_, me_.me, quiet);
    if (!released.ok()) {
      cfg_.log->error("cluster: releasing {} handed-over shards failed: {}", quiet.size(), released.error().detail);
      return;
    }
    held_.erase(std::remove_if(held_.begin(), held_.end(),
                               [&](const storage::held_lease& l) {
                                 return std::binary_search(quiet.begin(), quiet.end(), l.shard);
                               }),
                held_.end());
    cfg_.log->info("cluster: handed over {} shards ({} released)", quiet.size(), released.value());
  }

  void publish() {
    if (held_ == published_)
      return;
    cfg_.log->info("cluster: holding {} shards: {}", held_.size(), shard_list(held_));
    self_->send(cfg_.registry, actors::leases_atom::value, actors::lease_table{held_});
    published_ = held_;
  }

  // Who owns which shard, for the router; sent only when it changed. The members are the round's; the
  // leases are read after the hand-off, which may have released some.
  void publish_routes(const std::vector<storage::member>& members) {
    if (!cfg_.router)
      return;
    auto leases = storage::list_leases(*conn_);
    if (!leases.ok()) {
      cfg_.log->warn("cluster: reading the routes failed: {}", leases.error().detail);
      return;
    }
    auto routes = make_route_table(members, leases.value(), cfg_.shards->shard_count());
    if (routes == routes_)
      return;
    routes_ = routes;
    self_->send(cfg_.router, routes_atom::value, std::move(routes));
  }

  // A clean stop: the leases are released at once (no waiting for their expiry) and the node leaves.
  void leave() {
    if (!connected())
      return;
    std::vector<uint32_t> shards;
    for (const auto& l : held_)
      shards.push_back(l.shard);
    auto released = storage::release_leases(*conn_, me_.me, shards);
    if (!released.ok())
      cfg_.log->warn("cluster: releasing leases failed: {}", released.error().detail);
    auto left = storage::set_state(*conn_, me_.me, storage::member_state::down);
    if (!left.ok())
      cfg_.log->warn("cluster: leaving failed: {}", left.error().detail);
    cfg_.log->info("cluster: left ({} leases released)", released.ok() ? released.value() : 0);
  }

  caf::blocking_actor* self_;
  lease_manager_config cfg_;
  membership me_;
  std::vector<storage::held_lease> held_;
  std::vector<storage::held_lease> published_;  // what the registry was told last
  std::chrono::steady_clock::time_point renewed_at_;
  std::unique_ptr<storage::pg_connection> conn_;
  route_table routes_;        // what the router was told last
  bool handing_off_ = false;  // the registry was last given a non-empty hand-off list
};

}  // namespace

void lease_manager(caf::blocking_actor* self, lease_manager_config cfg) {
  manager m(self, std::move(cfg));
  m.run();
}

}  // namespace caudal::cluster
