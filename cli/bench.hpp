#pragma once
// `caudal bench` (issue 3): a load generator that is a client like any other. It creates fresh tenants and
// their accounts with the operator's credentials, drives create_transfers from --clients threads (one
// connection per tenant per thread; closed loop, or open loop at --rate requests/s), counts only
// acknowledged transfers, treats every result but `ok` as an unexpected refusal, runs `verify` of its tenants
// at the end, and prints its figures followed by one JSON line. Exit code 0 only if there was no error and verify
// passed.
#include "cli/bench_workload.hpp"
#include "cli/commands.hpp"

namespace caudal::cli {

int bench(context& ctx, const bench_args& a);

}  // namespace caudal::cli
