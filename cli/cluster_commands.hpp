#pragma once
// `caudal cluster drain NODE [--wait] [--timeout S]` (issue 4): sets a member draining through the Admin
// RPC; its lease manager then hands every shard it holds to the other live members. With --wait, polls
// `cluster status` until the member holds no shard (exit 0) or the timeout passes (exit 1, saying what is
// left and why it may not move). Operator credentials (scope admin).
#include <string>

#include "cli/commands.hpp"

namespace caudal::cli {

struct cluster_drain_args {
  std::string node;
  bool wait = false;
  std::string timeout = "60";  // seconds --wait polls at most (1..86400)
};

int cluster_drain(context& ctx, const cluster_drain_args& a);

}  // namespace caudal::cli
