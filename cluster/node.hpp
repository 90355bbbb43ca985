#pragma once
// The node's composition root: builds every part from the node config and passes dependencies down
// (no globals). Threads: the caller's thread runs the kj event loop (RPC gateway, HTTP endpoint); CAF
// runs the actors on its scheduler; the batch writer and the database pools are detached actors, each
// on its own thread with its own PostgreSQL connection.
#include "cluster/node_config.hpp"

namespace caudal::cluster {

// Starts the node and serves until SIGTERM or SIGINT; returns the process exit status.
// When the environment variable CAUDAL_READY_FILE names a file, the node writes its bound addresses
// there once it serves ("rpc=HOST:PORT http=HOST:PORT"), so tests can start nodes on port 0.
int run_node(const node_config& cfg);

}  // namespace caudal::cluster
