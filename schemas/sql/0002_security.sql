-- Caudal security schema, version 2 (issue 5): client scopes, token signing keys, the audit table.

-- OAuth 2.0 scopes a client holds, space-separated (security/scopes.hpp): a tenant's client holds some of
-- ledger:read, ledger:write, onboarding; an operator client (no tenant) holds admin.
ALTER TABLE clients ADD COLUMN scopes text NOT NULL DEFAULT 'ledger:read ledger:write onboarding';
UPDATE clients SET scopes = 'admin' WHERE tenant_id IS NULL;
ALTER TABLE clients ADD COLUMN secret_rotated_at timestamptz;
CREATE INDEX clients_revoked ON clients (revoked_at) WHERE revoked_at IS NOT NULL;

-- Ed25519 keys that sign access tokens (JWT "kid"). The newest key without retired_at signs; a retired
-- key still verifies tokens until retired_at + the token lifetime. Keys are base64url of the raw 32
-- bytes. The private half is readable by whoever can read this table (protect the database role); it
-- never leaves the node's memory otherwise and is never logged.
CREATE TABLE signing_keys (
  kid         text PRIMARY KEY,
  algorithm   text NOT NULL DEFAULT 'EdDSA',
  public_key  text NOT NULL,
  private_key text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);

-- Every authentication (success and failure), admin action, client and key change.
-- client_id is the client that acted (or tried to); action names what; outcome is "ok" or an error name.
CREATE TABLE audit_events (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  client_id text NOT NULL,
  source    text NOT NULL,   -- the peer address of the connection ("ip:port"), or "node" for the node itself
  action    text NOT NULL,
  outcome   text NOT NULL,
  detail    text NOT NULL DEFAULT ''   -- e.g. the client or key acted on; never a secret or token
);
CREATE INDEX audit_events_at ON audit_events (at);
