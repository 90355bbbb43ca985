-- Caudal cluster schema, version 3: membership and shard leases (DESIGN.md section 3, issue 4).
-- Every time here is PostgreSQL's (now() / clock_timestamp()): nodes' clocks never judge a heartbeat or a
-- lease. The statements that read and write these tables live in storage/cluster_store.cpp only.

-- The cluster's fixed shape, written once by the first node that starts (storage::ensure_cluster).
-- The singleton column makes a second row impossible.
CREATE TABLE cluster_settings (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  shard_count integer NOT NULL CHECK (shard_count BETWEEN 1 AND 65536),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Residency regions: region R's tenants hash into shards [first_shard, first_shard + shard_count), and
-- only nodes labelled R own them. Shards outside every region's range are global (any node owns them).
-- Written with cluster_settings, in the same transaction; ranges never overlap (checked when written).
CREATE TABLE cluster_regions (
  region      text PRIMARY KEY,
  first_shard integer NOT NULL CHECK (first_shard >= 0),
  shard_count integer NOT NULL CHECK (shard_count > 0)
);

-- Membership, in the spirit of Orleans' membership table: one row per node id, its current incarnation.
-- A node (re)joining bumps the incarnation; a node declared down must rejoin (its heartbeats are refused).
CREATE TABLE cluster_members (
  node_id         text PRIMARY KEY,
  incarnation     bigint NOT NULL CHECK (incarnation > 0),
  cluster_address text NOT NULL,   -- host:port of CAF's network layer (BASP), "" until it listens
  rpc_address     text NOT NULL,   -- host:port of the client API
  metrics_address text NOT NULL,   -- host:port of /metrics and /healthz
  region          text NOT NULL,
  state           text NOT NULL CHECK (state IN ('joining', 'up', 'draining', 'down')),
  joined_at       timestamptz NOT NULL,
  last_heartbeat  timestamptz NOT NULL
);

-- One lease per shard, created with cluster_settings. Fencing rule: every change of holder (node id and
-- incarnation) increases the epoch, and a release expires the lease at once, so (shard, epoch, not expired)
-- names exactly one holder; the group commit checks that under FOR SHARE in its own transaction.
CREATE TABLE shard_leases (
  shard             integer PRIMARY KEY CHECK (shard >= 0),
  owner_node        text,            -- NULL: free (never taken, or released)
  owner_incarnation bigint,
  epoch             bigint NOT NULL DEFAULT 0,
  expires_at        timestamptz NOT NULL DEFAULT '-infinity',
  CHECK ((owner_node IS NULL) = (owner_incarnation IS NULL))
);
CREATE INDEX shard_leases_owner ON shard_leases (owner_node, owner_incarnation);
-- Makes the holder columns key columns: an UPDATE that changes the holder (take-over, release) takes the
-- FOR UPDATE row lock, which waits for the group commits holding FOR KEY SHARE on the row (fencing), while a
-- renewal (expires_at only) takes FOR NO KEY UPDATE and never waits for them (storage/ledger_commit.cpp).
CREATE UNIQUE INDEX shard_leases_holder ON shard_leases (shard, epoch, owner_node, owner_incarnation);
