-- Caudal cluster schema, version 5: data residency (issue 4, point 6).
-- A residency region has a number (1..32767) that new tenants of its countries carry in their id: tenant
-- id = region number << 48 | a sequence number. So every node derives a tenant's region, and its shard,
-- from the id alone (cluster/placement), with no lookup and no way to disagree. Region 0 is global.
-- Written once with the cluster (storage::ensure_cluster), like cluster_regions.

ALTER TABLE cluster_regions ADD COLUMN region_no integer UNIQUE CHECK (region_no BETWEEN 1 AND 32767);
UPDATE cluster_regions r SET region_no = n.no
  FROM (SELECT region, row_number() OVER (ORDER BY region) AS no FROM cluster_regions) n
  WHERE n.region = r.region;
ALTER TABLE cluster_regions ALTER COLUMN region_no SET NOT NULL;

-- The countries whose tenants' data must stay in a region: their tenants hash into that region's shards,
-- and only that region's nodes own those shards. Countries not listed are global.
CREATE TABLE residency_rules (
  country text PRIMARY KEY CHECK (country ~ '^[A-Z]{2}$'),
  region  text NOT NULL REFERENCES cluster_regions (region)
);
