-- Caudal ledger schema, version 1.
-- Every tenant-owned table carries tenant_id and leads its primary key with it, so the schema can be
-- distributed by tenant (as Citus does) when one database is not enough.
-- 128-bit ids are uuid columns holding the big-endian bytes of the id: byte order = numeric order.
-- Amounts and balances are bigint: the ledger refuses anything at or above 2^63.

CREATE TABLE tenants (
  tenant_id      bigint PRIMARY KEY,
  name           text NOT NULL UNIQUE,
  country        text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_timestamp bigint NOT NULL DEFAULT 0      -- the tenant clock (ns), restored when the tenant loads
);
CREATE SEQUENCE tenant_ids START 1;

-- API clients: a tenant's clients (tenant_id set) and operators (tenant_id null, admin).
CREATE TABLE clients (
  client_id   text PRIMARY KEY,
  tenant_id   bigint REFERENCES tenants (tenant_id),
  secret_hash text NOT NULL,                   -- Argon2id encoded hash, never the secret
  admin       boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE TABLE accounts (
  tenant_id       bigint NOT NULL,
  id              uuid NOT NULL,
  user_data_128   uuid NOT NULL,
  user_data_64    bigint NOT NULL,   -- the u64 bit pattern
  user_data_32    bigint NOT NULL,
  ledger          bigint NOT NULL,
  code            integer NOT NULL,
  flags           integer NOT NULL,
  debits_pending  bigint NOT NULL,
  debits_posted   bigint NOT NULL,
  credits_pending bigint NOT NULL,
  credits_posted  bigint NOT NULL,
  timestamp       bigint NOT NULL,   -- creation (ns)
  version         bigint NOT NULL,   -- timestamp of the last event that changed the balances
  PRIMARY KEY (tenant_id, id)
);

-- Transfers as stored: post/void rows carry the fields resolved from the pending transfer, balancing
-- rows the amount actually moved. Immutable once written.
CREATE TABLE transfers (
  tenant_id         bigint NOT NULL,
  id                uuid NOT NULL,
  debit_account_id  uuid NOT NULL,
  credit_account_id uuid NOT NULL,
  amount            bigint NOT NULL,
  pending_id        uuid NOT NULL,
  user_data_128     uuid NOT NULL,
  user_data_64      bigint NOT NULL,
  user_data_32      bigint NOT NULL,
  timeout           bigint NOT NULL,
  ledger            bigint NOT NULL,
  code              integer NOT NULL,
  flags             integer NOT NULL,
  timestamp         bigint NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
-- Account history queries: an account's transfers in time order, on either side.
CREATE INDEX transfers_by_debit ON transfers (tenant_id, debit_account_id, timestamp);
CREATE INDEX transfers_by_credit ON transfers (tenant_id, credit_account_id, timestamp);

-- The mutable life of pending transfers, kept apart from the immutable rows.
-- state: 1 pending, 2 posted, 3 voided, 4 expired.
CREATE TABLE pending_transfers (
  tenant_id  bigint NOT NULL,
  id         uuid NOT NULL,
  state      smallint NOT NULL,
  expires_at bigint NOT NULL,        -- ns; 0 = never
  PRIMARY KEY (tenant_id, id)
);
-- The tenant sequencer applies expiries in time order.
CREATE INDEX pending_transfers_expiry ON pending_transfers (tenant_id, expires_at)
  WHERE state = 1 AND expires_at > 0;

-- Ids of transfers that failed with a transient result: a retry answers id_already_failed.
CREATE TABLE failed_transfers (
  tenant_id bigint NOT NULL,
  id        uuid NOT NULL,
  result    smallint NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

-- Balance history of accounts with the history flag: one row per event that changed the balances.
CREATE TABLE account_balances (
  tenant_id       bigint NOT NULL,
  account_id      uuid NOT NULL,
  timestamp       bigint NOT NULL,
  debits_pending  bigint NOT NULL,
  debits_posted   bigint NOT NULL,
  credits_pending bigint NOT NULL,
  credits_posted  bigint NOT NULL,
  PRIMARY KEY (tenant_id, account_id, timestamp)
);
