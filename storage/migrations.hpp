#pragma once
// Versioned schema migrations: schemas/sql/NNNN_name.sql applied once each, in order, at node start.
// Runs under a PostgreSQL advisory lock, so several nodes starting together apply each one once.
#include <string>

#include "storage/pg_connection.hpp"

namespace caudal::storage {

// Applies every migration of `sql_dir` not yet recorded in schema_migrations, each in its own transaction.
// Returns how many it applied.
result<int> migrate(pg_connection& conn, const std::string& sql_dir);

}  // namespace caudal::storage
