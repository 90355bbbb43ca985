// `caudal cluster drain` (see cluster_commands.hpp).
#include "cli/cluster_commands.hpp"

#include <chrono>
#include <sstream>
#include <thread>

#include "cli/parse.hpp"
#include "cli/render.hpp"
#include "client/connection.hpp"

namespace caudal::cli {

namespace {

using steady = std::chrono::steady_clock;

constexpr auto poll_interval = std::chrono::milliseconds(250);
constexpr uint32_t max_timeout_s = 86400;

// What the server's refusal means for a drain, in words; other failures print as every command's do.
int drain_refused(context& ctx, const failure& f, const std::string& node) {
  // The client library marks answers of the server this way; node_down otherwise means "connection lost".
  const bool from_server = f.detail == "refused by the server";
  if (ctx.global.json || !from_server || (f.code != errc::node_not_found && f.code != errc::node_down))
    return report_failure(ctx, f);
  ctx.err << "caudal: " << errc_name(f.code) << ": ";
  if (f.code == errc::node_not_found)
    ctx.err << "no cluster member is called '" << node << "' (`caudal cluster status` lists them)\n";
  else
    ctx.err << "node " << node << " is down: it holds no shard to hand over (started again, it rejoins as up)\n";
  return exit_failed;
}

// True when a member other than `node` may take shards (joining or up).
bool others_live(const client::cluster_status& s, const std::string& node) {
  for (const auto& n : s.nodes)
    if (n.id != node && (n.state == "up" || n.state == "joining"))
      return true;
  return false;
}

std::string seconds_text(steady::duration d) {
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << std::chrono::duration<double>(d).count() << " s";
  return s.str();
}

}  // namespace

int cluster_drain(context& ctx, const cluster_drain_args& a) {
  auto timeout_s = parse_u32_arg("--timeout", a.timeout);
  if (!timeout_s || timeout_s.value() == 0 || timeout_s.value() > max_timeout_s)
    return report_usage(ctx, usage_error("--timeout must be 1.." + std::to_string(max_timeout_s) + " seconds"));
  client::connection conn;
  if (int code = open_operator_session(ctx, conn); code != exit_processed)
    return code;
  auto drained = conn.drain_node(a.node);
  if (!drained)
    return drain_refused(ctx, drained.error(), a.node);
  client::cluster_node_status node = drained.value();
  if (!a.wait) {
    if (ctx.global.json) {
      ctx.out << dump(json{{"node", cluster_node_json(node)}}) << '\n';
      return exit_processed;
    }
    ctx.out << "node " << node.id << " (incarnation " << node.incarnation << ") is draining; it holds " << node.shards
            << " shards, handed over to the live nodes within a few heartbeats "
            << "(`caudal cluster status` shows them move)\n";
    auto status = conn.get_cluster_status();
    if (status && node.shards > 0 && !others_live(status.value(), node.id))
      ctx.out << "note: no other node is up: its shards stay until one starts\n";
    return exit_processed;
  }

  // --wait: until the member holds no shard (handed over, or released by a stop), or the deadline.
  const auto started = steady::now();
  const auto deadline = started + std::chrono::seconds(timeout_s.value());
  bool someone_else = true;
  uint32_t unowned = 0;  // shards released and not yet taken, at the last poll
  failure last_error{errc::none, {}};
  while (node.shards > 0 && steady::now() < deadline) {
    std::this_thread::sleep_for(poll_interval);
    auto status = conn.get_cluster_status();
    if (!status) {
      if (!errc_retryable(status.error().code))
        return report_failure(ctx, status.error());
      last_error = status.error();  // retried until the deadline
      continue;
    }
    last_error = failure{errc::none, {}};
    bool found = false;
    for (const auto& n : status->nodes)
      if (n.id == node.id) {
        node = n;
        found = true;
      }
    if (!found)
      return drain_refused(ctx, failure{errc::node_not_found, "refused by the server"}, a.node);
    someone_else = others_live(status.value(), node.id);
    unowned = status->shards_unowned;
  }
  const auto waited = steady::now() - started;
  if (node.shards == 0) {
    if (ctx.global.json) {
      ctx.out << dump(json{{"node", cluster_node_json(node)},
                           {"drained", true},
                           {"waited_ms", std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()},
                           {"shards_unowned", unowned}})
              << '\n';
      return exit_processed;
    }
    ctx.out << "node " << node.id << " (incarnation " << node.incarnation << ", " << node.state
            << ") holds no shard: drained in " << seconds_text(waited);
    if (unowned > 0)
      ctx.out << "; " << unowned << " shards are released and not yet taken (the live nodes take them on their "
              << "next heartbeat)";
    ctx.out << '\n';
    return exit_processed;
  }
  if (ctx.global.json) {
    json j = error_json(errc::timeout);
    j["node"] = cluster_node_json(node);
    ctx.out << dump(j) << '\n';
    return exit_failed;
  }
  ctx.err << "caudal: timeout: node " << node.id << " still holds " << node.shards << " shards after "
          << timeout_s.value() << " s (state " << node.state << ")";
  if (last_error.code != errc::none)
    ctx.err << "; the last status request failed: " << errc_name(last_error.code);
  else if (!someone_else)
    ctx.err << "; no other node is up to take them: start or add one";
  ctx.err << '\n';
  return exit_failed;
}

}  // namespace caudal::cli
