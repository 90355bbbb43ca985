#pragma once
// Clients' scopes and lifecycle, token signing keys and the audit table (schemas/sql/0002_security.sql),
// over one pg_connection (blocking; detached actors only). Secrets arrive here already hashed; private
// keys are read and written but never put in an error text.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/admin_types.hpp"
#include "storage/pg_connection.hpp"

namespace caudal::storage {

// --- clients ---
// The channel on which a revocation is announced (NOTIFY, payload: the client id) when it commits; every
// node LISTENs on it (storage/revocation_listener.hpp).
constexpr const char* revocation_channel = "caudal_revocations";
// The form of any client id we store: 1 to 128 characters of [A-Za-z0-9_.-] (generated ids and the
// operator's id both fit). Anything else arriving as a client id, e.g. a notification's payload, is no id.
bool well_formed_client_id(std::string_view id);

// A new client of tenant `t` (or an operator client when t is empty) with `scopes`.
// errc::invalid_request if the id is taken, errc::tenant_not_found if the tenant does not exist.
result<client_info> create_client(pg_connection& c, const std::string& client_id, std::optional<tenant_id> t,
                                  uint32_t scopes, const std::string& secret_hash);
// Replaces the secret hash of an active client; errc::invalid_request (unknown or revoked client).
result<void> set_client_secret(pg_connection& c, const std::string& client_id, const std::string& secret_hash);
// Marks the client revoked (idempotent: the first revocation time stays) and, in the same statement, hence
// the same transaction, announces it on revocation_channel: other nodes hear of it when it commits, never
// before. Every call announces it again (harmless: a node that already knows does nothing).
// errc::invalid_request if unknown.
result<client_info> revoke_client(pg_connection& c, const std::string& client_id);
result<std::vector<client_info>> list_clients(pg_connection& c, size_t limit);
// Clients revoked at or after `since_ms` (the gateway's revocation poll and catch-up), at most `limit`.
result<std::vector<client_info>> clients_revoked_since(pg_connection& c, int64_t since_ms, size_t limit);
// Of `client_ids`, those that exist and are revoked (what a node checks before it acts on a notification:
// anyone connected to the database may NOTIFY, so the clients table decides). At most 1,000 ids, each
// well_formed_client_id (errc::invalid_request otherwise).
result<std::vector<std::string>> revoked_among(pg_connection& c, const std::vector<std::string>& client_ids);
// Whether the client exists and is not revoked (the check of a session opened from a token).
result<bool> client_active(pg_connection& c, const std::string& client_id);

// --- signing keys ---
struct stored_key {
  std::string kid;
  std::string public_b64;   // base64url of the raw Ed25519 public key
  std::string private_b64;  // base64url of the raw private key: secret
  int64_t created_at_ms = 0;
  int64_t retired_at_ms = 0;  // 0: the active key
};
// Every key retired at or after `retired_after_ms`, and the active one(s); newest first.
result<std::vector<stored_key>> load_signing_keys(pg_connection& c, int64_t retired_after_ms);
// Inserts `fresh` as the active key unless an active key exists (several nodes starting at once: one wins,
// under an advisory lock). Returns whether it was inserted.
result<bool> insert_first_signing_key(pg_connection& c, const stored_key& fresh);
// Retires the active key(s) and makes `fresh` the active one, in one transaction.
result<void> rotate_signing_key(pg_connection& c, const stored_key& fresh);

// --- audit ---
result<void> insert_audit(pg_connection& c, const audit_event& e);
// Events at or after `since_ms`, oldest first, at most `limit`.
result<std::vector<audit_event>> list_audit(pg_connection& c, int64_t since_ms, size_t limit);

}  // namespace caudal::storage
