-- Caudal cluster schema, version 6: who may join the cluster (issue 5, "a node without a valid certificate
-- cannot join"). Written once with the cluster (storage::ensure_cluster), like cluster_regions: the
-- transport between nodes and the cluster CA, the trust anchor every node's tls.ca_file must be and its
-- certificate must verify against. A node whose configuration differs refuses to start before it registers
-- or takes a lease (cluster/admission), so its shards never become unreachable from the other nodes.

-- 'mutual_tls': TLS 1.3 with certificates of the CA(s) in cluster_trust_anchors; 'insecure': plain TCP
-- (development). Never mixed: a TLS node cannot join an insecure cluster nor an insecure node a TLS one.
-- NULL only for a cluster created before this migration: the first node of this version to start records
-- its own transport (and CA) there, audited as config.trust_anchor_recorded.
ALTER TABLE cluster_settings ADD COLUMN transport text CHECK (transport IN ('mutual_tls', 'insecure'));

-- The CA certificates of a 'mutual_tls' cluster, by SHA-256 over their DER encoding (lower-case hex, as
-- `openssl x509 -noout -fingerprint -sha256` prints it without the colons). A node's tls.ca_file must hold
-- exactly this set. One row today; a set so that a CA rotation (old and new CA trusted side by side for a
-- while) needs no schema change. Only fingerprints: the certificates themselves stay in the nodes' files.
CREATE TABLE cluster_trust_anchors (
  sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  subject     text NOT NULL,   -- the CA's subject, for people reading errors and the audit
  recorded_at timestamptz NOT NULL DEFAULT now()
);
