@0xc5786717e7b040c9;
# Caudal client API (DESIGN.md section 6).
#
# Authority is a capability: Gateway.authenticate returns a Session bound to one tenant (or an operator
# session with the admin right). Every call answers a request-level `error` (code `none` on success); the
# per-item outcomes of create calls are result codes, one per item, in order.
#
# Rules of this file: fields and enumerants are only appended, never renumbered or reused.
# 128-bit ids travel as two UInt64 halves (hi, lo) so the big lists are pointer-free and cheap to build.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("caudal::api");

const maxBatchItems :UInt32 = 8190;   # items per create/lookup call; more answers batchTooLarge

struct Error {
  code @0 :ErrorCode;
  retryable @1 :Bool;   # retry with the same ids: the exactly-once effect makes it safe
  detail @2 :Text;      # regionUnavailable only: which region has no node up. Never internal detail.
}

# Request-level failures (base/errc.hpp mirrors these values).
enum ErrorCode {
  none @0;
  overloaded @1;             # retryable: a queue is full
  batchTooLarge @2;          # more than maxBatchItems items
  invalidRequest @3;         # malformed request (bad filter, bad name); nothing written
  unauthenticated @4;        # unknown client or wrong secret
  forbidden @5;              # the session lacks the right (admin vs tenant)
  tenantNotFound @6;
  tenantUnavailable @7;      # retryable: the tenant's actor is restarting
  commitFailed @8;           # retryable: the group commit failed and was rolled back
  commitOutcomeUnknown @9;   # retryable: the connection died during COMMIT; retry with the same ids
  databaseUnavailable @10;   # retryable
  timeout @11;               # retryable: the deadline passed, outcome unknown
  internal @12;              # a bug; details only in the node's log
  shardMoving @13;           # retryable
  nodeDown @14;              # retryable
  regionUnavailable @15;     # retryable
  rateLimited @16;           # retryable, later
  tenantExists @17;          # a tenant with that name exists already
  notEnabled @18;            # a feature the node was not started with (test hooks)
  notOwner @19;              # retryable: this node does not hold the tenant's shard lease; nothing written
  nodeNotFound @20;          # no cluster member has that node id
}

struct U128 {
  hi @0 :UInt64;
  lo @1 :UInt64;
}

# Account flags: linked 1, debitsMustNotExceedCredits 2, creditsMustNotExceedDebits 4, history 8, closed 32.
struct Account {
  idHi @0 :UInt64;
  idLo @1 :UInt64;
  userData128Hi @2 :UInt64;
  userData128Lo @3 :UInt64;
  userData64 @4 :UInt64;
  userData32 @5 :UInt32;
  ledger @6 :UInt32;
  code @7 :UInt16;
  flags @8 :UInt16;
  debitsPending @9 :UInt64;    # must be 0 on create
  debitsPosted @10 :UInt64;    # must be 0 on create
  creditsPending @11 :UInt64;  # must be 0 on create
  creditsPosted @12 :UInt64;   # must be 0 on create
  timestamp @13 :UInt64;       # set by the cluster (ns); must be 0 on create
}

# Transfer flags: linked 1, pending 2, postPendingTransfer 4, voidPendingTransfer 8, balancingDebit 16,
# balancingCredit 32.
struct Transfer {
  idHi @0 :UInt64;
  idLo @1 :UInt64;
  debitAccountIdHi @2 :UInt64;
  debitAccountIdLo @3 :UInt64;
  creditAccountIdHi @4 :UInt64;
  creditAccountIdLo @5 :UInt64;
  amount @6 :UInt64;           # minor units, below 2^63; post/void: 0 means the pending amount
  pendingIdHi @7 :UInt64;
  pendingIdLo @8 :UInt64;
  userData128Hi @9 :UInt64;
  userData128Lo @10 :UInt64;
  userData64 @11 :UInt64;
  userData32 @12 :UInt32;
  timeout @13 :UInt32;         # seconds, pending transfers only; 0 = never expires
  ledger @14 :UInt32;
  code @15 :UInt16;
  flags @16 :UInt16;
  timestamp @17 :UInt64;       # set by the cluster (ns); must be 0 on create
}

# Results of createAccounts, in precedence order (the first check that fails answers). Names and meaning
# follow TigerBeetle's CreateAccountResult; the full contract is actors/ledger/result_codes.hpp.
enum CreateAccountResult {
  ok @0;
  linkedEventFailed @1;
  linkedEventChainOpen @2;
  timestampMustBeZero @3;
  reservedFlag @4;
  idMustNotBeZero @5;
  idMustNotBeIntMax @6;
  existsWithDifferentFlags @7;
  existsWithDifferentUserData128 @8;
  existsWithDifferentUserData64 @9;
  existsWithDifferentUserData32 @10;
  existsWithDifferentLedger @11;
  existsWithDifferentCode @12;
  exists @13;
  flagsAreMutuallyExclusive @14;
  debitsPendingMustBeZero @15;
  debitsPostedMustBeZero @16;
  creditsPendingMustBeZero @17;
  creditsPostedMustBeZero @18;
  ledgerMustNotBeZero @19;
  codeMustNotBeZero @20;
}

# Results of createTransfers, in precedence order (TigerBeetle's CreateTransferResult names). Transient
# failures (account/pending transfer not found, account closed, overflows of balances, exceeds credits/
# debits) are recorded: a retry with the same id answers idAlreadyFailed.
enum CreateTransferResult {
  ok @0;
  linkedEventFailed @1;
  linkedEventChainOpen @2;
  timestampMustBeZero @3;
  reservedFlag @4;
  idMustNotBeZero @5;
  idMustNotBeIntMax @6;
  existsWithDifferentFlags @7;
  existsWithDifferentPendingId @8;
  existsWithDifferentTimeout @9;
  existsWithDifferentDebitAccountId @10;
  existsWithDifferentCreditAccountId @11;
  existsWithDifferentAmount @12;
  existsWithDifferentUserData128 @13;
  existsWithDifferentUserData64 @14;
  existsWithDifferentUserData32 @15;
  existsWithDifferentLedger @16;
  existsWithDifferentCode @17;
  exists @18;
  idAlreadyFailed @19;
  flagsAreMutuallyExclusive @20;
  debitAccountIdMustNotBeZero @21;
  debitAccountIdMustNotBeIntMax @22;
  creditAccountIdMustNotBeZero @23;
  creditAccountIdMustNotBeIntMax @24;
  accountsMustBeDifferent @25;
  pendingIdMustBeZero @26;
  pendingIdMustNotBeZero @27;
  pendingIdMustNotBeIntMax @28;
  pendingIdMustBeDifferent @29;
  timeoutReservedForPendingTransfer @30;
  amountMustNotBeZero @31;
  ledgerMustNotBeZero @32;
  codeMustNotBeZero @33;
  debitAccountNotFound @34;
  creditAccountNotFound @35;
  accountsMustHaveTheSameLedger @36;
  transferMustHaveTheSameLedgerAsAccounts @37;
  pendingTransferNotFound @38;
  pendingTransferNotPending @39;
  pendingTransferHasDifferentDebitAccountId @40;
  pendingTransferHasDifferentCreditAccountId @41;
  pendingTransferHasDifferentLedger @42;
  pendingTransferHasDifferentCode @43;
  exceedsPendingTransferAmount @44;
  pendingTransferHasDifferentAmount @45;
  pendingTransferAlreadyPosted @46;
  pendingTransferAlreadyVoided @47;
  pendingTransferExpired @48;
  debitAccountAlreadyClosed @49;
  creditAccountAlreadyClosed @50;
  overflowsDebitsPending @51;
  overflowsCreditsPending @52;
  overflowsDebitsPosted @53;
  overflowsCreditsPosted @54;
  overflowsDebits @55;
  overflowsCredits @56;
  overflowsTimeout @57;
  exceedsCredits @58;
  exceedsDebits @59;
}

# Filter of getAccountTransfers / getAccountBalances (TigerBeetle's AccountFilter).
# flags: debits 1, credits 2 (at least one), reversed 4 (newest first).
struct AccountFilter {
  accountIdHi @0 :UInt64;
  accountIdLo @1 :UInt64;
  userData128Hi @2 :UInt64;   # 0 = any
  userData128Lo @3 :UInt64;
  userData64 @4 :UInt64;      # 0 = any
  userData32 @5 :UInt32;      # 0 = any
  code @6 :UInt16;            # 0 = any
  timestampMin @7 :UInt64;    # inclusive, 0 = no bound
  timestampMax @8 :UInt64;    # inclusive, 0 = no bound
  limit @9 :UInt32;           # 1 .. maxBatchItems
  flags @10 :UInt32;
}

struct AccountBalance {
  timestamp @0 :UInt64;
  debitsPending @1 :UInt64;
  debitsPosted @2 :UInt64;
  creditsPending @3 :UInt64;
  creditsPosted @4 :UInt64;
}

struct Tenant {
  id @0 :UInt64;
  name @1 :Text;
  country @2 :Text;          # ISO 3166-1 alpha-2
  createdAtMs @3 :Int64;
}

struct VerifyReport {
  ok @0 :Bool;
  violations @1 :List(Text);  # at most 100, each naming tenant, ledger or account
  tenantsChecked @2 :UInt32;
  accountsChecked @3 :UInt64;
  transfersChecked @4 :UInt64;
}

# `caudal cluster status`: membership and shard leases, as PostgreSQL holds them.
struct ClusterNode {
  id @0 :Text;
  incarnation @1 :UInt64;
  rpcAddress @2 :Text;
  clusterAddress @3 :Text;     # empty until inter-node messaging listens
  metricsAddress @4 :Text;
  region @5 :Text;
  state @6 :Text;              # joining, up, draining, down
  heartbeatAgeMs @7 :Int64;    # by PostgreSQL's clock
  shards @8 :UInt32;           # unexpired leases it holds
}

struct ClusterStatus {
  shardCount @0 :UInt32;
  nodes @1 :List(ClusterNode);
  shardsOwned @2 :UInt32;      # unexpired leases
  shardsUnowned @3 :UInt32;    # free, released or expired
}

# Test-only fault injection; a node answers notEnabled unless started with --test-hooks.
enum FaultKind {
  crashTenant @0;          # the tenant's actor exits with an error (its supervisor restarts it)
  crashAccount @1;         # one account actor exits with an error
  passivateTenant @2;      # the tenant and its account actors are passivated now
  writerDelay @3;          # the batch writer holds each transaction open `delayMs` before COMMIT
}

struct Fault {
  kind @0 :FaultKind;
  tenantId @1 :UInt64;
  accountIdHi @2 :UInt64;
  accountIdLo @3 :UInt64;
  delayMs @4 :UInt32;
}

# An API client as the operator sees it (never its secret).
struct ClientInfo {
  clientId @0 :Text;
  tenantId @1 :UInt64;       # 0: an operator client
  scopes @2 :List(Text);     # ledger:read, ledger:write, onboarding, admin
  createdAtMs @3 :Int64;
  revokedAtMs @4 :Int64;     # 0: active
}

# One row of the audit table.
struct AuditEvent {
  id @0 :Int64;
  atMs @1 :Int64;
  clientId @2 :Text;
  source @3 :Text;           # the peer address of the connection, or "node"
  action @4 :Text;
  outcome @5 :Text;          # "ok" or an error name
  detail @6 :Text;
}

interface Gateway {
  # OAuth 2.0 client credentials: the client's id and secret, and the scopes it asks for (empty: all it
  # holds; one it does not hold answers forbidden). Answers a Session bound to the client's tenant (none for
  # an operator client) with the granted scopes, and an access token (a JWT signed with Ed25519, with kid,
  # exp, tenant and scope claims) that opens further sessions until it expires. The session ends with the
  # token (calls then answer unauthenticated) or when its client is revoked.
  # Repeated failures answer rateLimited (per client id and per source address).
  authenticate @0 (clientId :Text, clientSecret :Text, scopes :List(Text))
      -> (error :Error, session :Session, tenantId :UInt64, admin :Bool, scopes :List(Text), accessToken :Text,
          expiresAtMs :Int64);
  # A session from an access token alone (no secret). Expired, forged, altered or revoked tokens answer
  # unauthenticated.
  openSession @1 (accessToken :Text)
      -> (error :Error, session :Session, tenantId :UInt64, admin :Bool, scopes :List(Text), expiresAtMs :Int64);
}

interface Session {
  createAccounts @0 (accounts :List(Account)) -> (error :Error, results :List(CreateAccountResult));
  createTransfers @1 (transfers :List(Transfer)) -> (error :Error, results :List(CreateTransferResult));
  lookupAccounts @2 (ids :List(U128)) -> (error :Error, accounts :List(Account));     # found ones, in request order
  lookupTransfers @3 (ids :List(U128)) -> (error :Error, transfers :List(Transfer));  # found ones, in request order
  getAccountTransfers @4 (filter :AccountFilter) -> (error :Error, transfers :List(Transfer));
  getAccountBalances @5 (filter :AccountFilter) -> (error :Error, balances :List(AccountBalance));
  admin @6 () -> (error :Error, admin :Admin);   # forbidden unless the session holds the admin scope
}

interface Admin {
  createTenant @0 (name :Text, country :Text) -> (error :Error, tenant :Tenant, clientId :Text, clientSecret :Text);
  listTenants @1 () -> (error :Error, tenants :List(Tenant));
  # Recomputes double entry and every balance from one REPEATABLE READ snapshot of the database: of the
  # tenants listed (at most 8,190; unknown ids are skipped and not counted), or of every tenant when empty.
  verify @2 (tenants :List(UInt64)) -> (error :Error, report :VerifyReport);
  injectFault @3 (fault :Fault) -> (error :Error);
  # Clients: a tenant's (tenantId != 0; scopes among ledger:read, ledger:write, onboarding) or an operator's
  # (tenantId 0; scope admin). The secret is shown once; only its Argon2id hash is kept.
  createClient @4 (tenantId :UInt64, scopes :List(Text)) -> (error :Error, client :ClientInfo, clientSecret :Text);
  rotateClientSecret @5 (clientId :Text) -> (error :Error, clientSecret :Text);
  # Revoked at once, on every node: its open sessions close and its tokens and secret stop working. The
  # revocation is announced (NOTIFY) when it commits, and every node closes the client's sessions as it
  # hears it, within milliseconds; a node whose announcement was lost reads it from PostgreSQL when it
  # reconnects, or at its revocation poll interval at the latest.
  revokeClient @6 (clientId :Text) -> (error :Error, client :ClientInfo);
  listClients @7 () -> (error :Error, clients :List(ClientInfo));
  # A new token signing key signs from now on; the previous one verifies until its tokens have expired.
  rotateSigningKey @8 () -> (error :Error, keyId :Text);
  listAudit @9 (sinceMs :Int64, limit :UInt32) -> (error :Error, events :List(AuditEvent));
  # The members and how the shards are held (PostgreSQL's view, one snapshot).
  clusterStatus @10 () -> (error :Error, status :ClusterStatus);
  # Sets the member's current incarnation draining: it gets no new shards and hands over those it holds to
  # the other live members (its own lease rounds do it; `node.shards` falls to 0 in clusterStatus), and it
  # stays draining through its heartbeats until it stops (a restart rejoins it as up). Answers the member
  # as it is right after the change. Draining a draining member changes nothing (no error);
  # nodeNotFound when no member has that id, nodeDown when its current incarnation is down.
  drainNode @11 (nodeId :Text) -> (error :Error, node :ClusterNode);
}
