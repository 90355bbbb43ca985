#pragma once
// Pools of detached actors, each owning one PostgreSQL connection, that run the blocking queries of the
// node so no scheduler worker ever blocks (STYLE 9).
//   db_reader:    the ledger's reads and loads (prefetch for the sequencer, lookups, history queries).
//   admin_worker: authentication (Argon2id verification is CPU-heavy: kept off the ledger's readers) and
//                 access tokens (signed here with the key ring's active key), clients, signing keys, the
//                 audit table, tenant creation and listing, the ledger checker.
// Protocols: actors/protocol.hpp.
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "base/clock.hpp"
#include "security/key_ring.hpp"

namespace caudal::actors {

struct db_pool_config {
  std::string pg_url;
  std::string application_name;  // names the backends in pg_stat_activity
  size_t size = 4;
  std::shared_ptr<spdlog::logger> log;
  // admin_worker only: the node's token keys (shared with the gateway), token lifetime, time source.
  std::shared_ptr<security::key_ring> keys;
  uint32_t token_ttl_s = 900;
  const caudal::clock* clock = nullptr;
  // 32 raw bytes that encrypt the signing keys in PostgreSQL (security/key_wrap.hpp); empty: stored as
  // they are (the node warns at start).
  std::string key_encryption_key;
};

// Both return a round-robin actor_pool of `size` detached workers.
caf::actor spawn_db_readers(caf::actor_system& sys, const db_pool_config& cfg);
caf::actor spawn_admin_workers(caf::actor_system& sys, const db_pool_config& cfg);

}  // namespace caudal::actors
