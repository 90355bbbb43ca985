// Wire <-> domain mapping (see codec.hpp). Pure functions, no I/O; safe on any thread.
#include "schemas/codec.hpp"

#include "security/scopes.hpp"

#include "base/limits.hpp"

namespace caudal::wire {

// The numbers of the wire enums are those of the C++ enums (both are append-only). The last enumerant of
// each pins the count; the unit test (codec_test) checks every value by name through capnp's reflection.
static_assert(static_cast<uint16_t>(api::CreateAccountResult::CODE_MUST_NOT_BE_ZERO) ==
              ledger::create_account_result_max);
static_assert(static_cast<uint16_t>(api::CreateAccountResult::EXISTS) ==
              static_cast<uint16_t>(ledger::create_account_result::exists));
static_assert(static_cast<uint16_t>(api::CreateTransferResult::EXCEEDS_DEBITS) == ledger::create_transfer_result_max);
static_assert(static_cast<uint16_t>(api::CreateTransferResult::ID_ALREADY_FAILED) ==
              static_cast<uint16_t>(ledger::create_transfer_result::id_already_failed));
static_assert(static_cast<uint16_t>(api::CreateTransferResult::PENDING_TRANSFER_EXPIRED) ==
              static_cast<uint16_t>(ledger::create_transfer_result::pending_transfer_expired));
static_assert(static_cast<uint16_t>(api::ErrorCode::NODE_NOT_FOUND) == errc_max);
static_assert(static_cast<uint16_t>(api::ErrorCode::NODE_DOWN) == static_cast<uint16_t>(errc::node_down));
static_assert(static_cast<uint16_t>(api::FaultKind::WRITER_DELAY) == fault_kind_max);
static_assert(api::MAX_BATCH_ITEMS == limits::max_batch_items);

namespace {

std::string to_string(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

}  // namespace

void to_wire(const ledger::account& a, api::Account::Builder b) {
  b.setIdHi(a.id.value.hi);
  b.setIdLo(a.id.value.lo);
  b.setUserData128Hi(a.user_data_128.hi);
  b.setUserData128Lo(a.user_data_128.lo);
  b.setUserData64(a.user_data_64);
  b.setUserData32(a.user_data_32);
  b.setLedger(a.ledger);
  b.setCode(a.code);
  b.setFlags(a.flags);
  b.setDebitsPending(a.debits_pending);
  b.setDebitsPosted(a.debits_posted);
  b.setCreditsPending(a.credits_pending);
  b.setCreditsPosted(a.credits_posted);
  b.setTimestamp(a.timestamp);
}

ledger::account from_wire(api::Account::Reader r) {
  ledger::account a;
  a.id = account_id{u128{r.getIdHi(), r.getIdLo()}};
  a.user_data_128 = u128{r.getUserData128Hi(), r.getUserData128Lo()};
  a.user_data_64 = r.getUserData64();
  a.user_data_32 = r.getUserData32();
  a.ledger = r.getLedger();
  a.code = r.getCode();
  a.flags = r.getFlags();
  a.debits_pending = r.getDebitsPending();
  a.debits_posted = r.getDebitsPosted();
  a.credits_pending = r.getCreditsPending();
  a.credits_posted = r.getCreditsPosted();
  a.timestamp = r.getTimestamp();
  return a;
}

void to_wire(const ledger::transfer& t, api::Transfer::Builder b) {
  b.setIdHi(t.id.value.hi);
  b.setIdLo(t.id.value.lo);
  b.setDebitAccountIdHi(t.debit_account_id.value.hi);
  b.setDebitAccountIdLo(t.debit_account_id.value.lo);
  b.setCreditAccountIdHi(t.credit_account_id.value.hi);
  b.setCreditAccountIdLo(t.credit_account_id.value.lo);
  b.setAmount(t.amount);
  b.setPendingIdHi(t.pending_id.value.hi);
  b.setPendingIdLo(t.pending_id.value.lo);
  b.setUserData128Hi(t.user_data_128.hi);
  b.setUserData128Lo(t.user_data_128.lo);
  b.setUserData64(t.user_data_64);
  b.setUserData32(t.user_data_32);
  b.setTimeout(t.timeout);
  b.setLedger(t.ledger);
  b.setCode(t.code);
  b.setFlags(t.flags);
  b.setTimestamp(t.timestamp);
}

ledger::transfer from_wire(api::Transfer::Reader r) {
  ledger::transfer t;
  t.id = transfer_id{u128{r.getIdHi(), r.getIdLo()}};
  t.debit_account_id = account_id{u128{r.getDebitAccountIdHi(), r.getDebitAccountIdLo()}};
  t.credit_account_id = account_id{u128{r.getCreditAccountIdHi(), r.getCreditAccountIdLo()}};
  t.amount = r.getAmount();
  t.pending_id = transfer_id{u128{r.getPendingIdHi(), r.getPendingIdLo()}};
  t.user_data_128 = u128{r.getUserData128Hi(), r.getUserData128Lo()};
  t.user_data_64 = r.getUserData64();
  t.user_data_32 = r.getUserData32();
  t.timeout = r.getTimeout();
  t.ledger = r.getLedger();
  t.code = r.getCode();
  t.flags = r.getFlags();
  t.timestamp = r.getTimestamp();
  return t;
}

void to_wire(const ledger::account_filter& f, api::AccountFilter::Builder b) {
  b.setAccountIdHi(f.account.value.hi);
  b.setAccountIdLo(f.account.value.lo);
  b.setUserData128Hi(f.user_data_128.hi);
  b.setUserData128Lo(f.user_data_128.lo);
  b.setUserData64(f.user_data_64);
  b.setUserData32(f.user_data_32);
  b.setCode(f.code);
  b.setTimestampMin(f.timestamp_min);
  b.setTimestampMax(f.timestamp_max);
  b.setLimit(f.limit);
  b.setFlags(f.flags);
}

ledger::account_filter from_wire(api::AccountFilter::Reader r) {
  ledger::account_filter f;
  f.account = account_id{u128{r.getAccountIdHi(), r.getAccountIdLo()}};
  f.user_data_128 = u128{r.getUserData128Hi(), r.getUserData128Lo()};
  f.user_data_64 = r.getUserData64();
  f.user_data_32 = r.getUserData32();
  f.code = r.getCode();
  f.timestamp_min = r.getTimestampMin();
  f.timestamp_max = r.getTimestampMax();
  f.limit = r.getLimit();
  f.flags = r.getFlags();
  return f;
}

void to_wire(const ledger::account_balance& x, api::AccountBalance::Builder b) {
  b.setTimestamp(x.timestamp);
  b.setDebitsPending(x.debits_pending);
  b.setDebitsPosted(x.debits_posted);
  b.setCreditsPending(x.credits_pending);
  b.setCreditsPosted(x.credits_posted);
}

ledger::account_balance from_wire(api::AccountBalance::Reader r) {
  ledger::account_balance x;
  x.timestamp = r.getTimestamp();
  x.debits_pending = r.getDebitsPending();
  x.debits_posted = r.getDebitsPosted();
  x.credits_pending = r.getCreditsPending();
  x.credits_posted = r.getCreditsPosted();
  return x;
}

void to_wire(const u128& v, api::U128::Builder b) {
  b.setHi(v.hi);
  b.setLo(v.lo);
}

u128 from_wire(api::U128::Reader r) {
  return u128{r.getHi(), r.getLo()};
}

api::CreateAccountResult to_wire(ledger::create_account_result r) {
  return static_cast<api::CreateAccountResult>(static_cast<uint16_t>(r));
}

api::CreateTransferResult to_wire(ledger::create_transfer_result r) {
  return static_cast<api::CreateTransferResult>(static_cast<uint16_t>(r));
}

std::optional<ledger::create_account_result> from_wire(api::CreateAccountResult r) {
  const auto v = static_cast<uint16_t>(r);
  if (v > ledger::create_account_result_max)
    return std::nullopt;
  return static_cast<ledger::create_account_result>(v);
}

std::optional<ledger::create_transfer_result> from_wire(api::CreateTransferResult r) {
  const auto v = static_cast<uint16_t>(r);
  if (v > ledger::create_transfer_result_max)
    return std::nullopt;
  return static_cast<ledger::create_transfer_result>(v);
}

void set_error(api::Error::Builder b, errc e) {
  b.setCode(static_cast<api::ErrorCode>(static_cast<uint16_t>(e)));
  b.setRetryable(errc_retryable(e));
}

errc from_wire(api::Error::Reader r) {
  const auto v = static_cast<uint16_t>(r.getCode());
  if (v > errc_max)
    return errc::internal;
  return static_cast<errc>(v);
}

void to_wire(const tenant_info& t, api::Tenant::Builder b) {
  b.setId(t.id.value);
  b.setName(t.name);
  b.setCountry(t.country);
  b.setCreatedAtMs(t.created_at_ms);
}

tenant_info from_wire(api::Tenant::Reader r) {
  tenant_info t;
  t.id = tenant_id{r.getId()};
  t.name = to_string(r.getName());
  t.country = to_string(r.getCountry());
  t.created_at_ms = r.getCreatedAtMs();
  return t;
}

void scopes_to_wire(uint32_t scopes, capnp::List<capnp::Text>::Builder b) {
  auto names = security::scope_names(scopes);
  for (unsigned i = 0; i < b.size() && i < names.size(); ++i)
    b.set(i, names[i]);
}

unsigned scope_count(uint32_t scopes) { return static_cast<unsigned>(security::scope_names(scopes).size()); }

std::optional<uint32_t> scopes_from_wire(capnp::List<capnp::Text>::Reader r) {
  if (r.size() > 16)
    return std::nullopt;
  uint32_t out = 0;
  for (auto name : r) {
    auto bit = security::scope_from_name(std::string_view(name.cStr(), name.size()));
    if (!bit)
      return std::nullopt;
    out |= *bit;
  }
  return out;
}

void to_wire(const client_info& c, api::ClientInfo::Builder b) {
  b.setClientId(c.client_id);
  b.setTenantId(c.tenant ? c.tenant->value : 0);
  scopes_to_wire(c.scopes, b.initScopes(scope_count(c.scopes)));
  b.setCreatedAtMs(c.created_at_ms);
  b.setRevokedAtMs(c.revoked_at_ms);
}

client_info from_wire(api::ClientInfo::Reader r) {
  client_info c;
  c.client_id = to_string(r.getClientId());
  if (r.getTenantId() != 0)
    c.tenant = tenant_id{r.getTenantId()};
  c.scopes = scopes_from_wire(r.getScopes()).value_or(0);
  c.created_at_ms = r.getCreatedAtMs();
  c.revoked_at_ms = r.getRevokedAtMs();
  return c;
}

void to_wire(const audit_event& e, api::AuditEvent::Builder b) {
  b.setId(e.id);
  b.setAtMs(e.at_ms);
  b.setClientId(e.client_id);
  b.setSource(e.source);
  b.setAction(e.action);
  b.setOutcome(e.outcome);
  b.setDetail(e.detail);
}

audit_event from_wire(api::AuditEvent::Reader r) {
  audit_event e;
  e.id = r.getId();
  e.at_ms = r.getAtMs();
  e.client_id = to_string(r.getClientId());
  e.source = to_string(r.getSource());
  e.action = to_string(r.getAction());
  e.outcome = to_string(r.getOutcome());
  e.detail = to_string(r.getDetail());
  return e;
}

void to_wire(const verify_report& v, api::VerifyReport::Builder b) {
  b.setOk(v.ok);
  auto list = b.initViolations(static_cast<unsigned>(v.violations.size()));
  for (unsigned i = 0; i < list.size(); ++i)
    list.set(i, v.violations[i]);
  b.setTenantsChecked(v.tenants_checked);
  b.setAccountsChecked(v.accounts_checked);
  b.setTransfersChecked(v.transfers_checked);
}

verify_report from_wire(api::VerifyReport::Reader r) {
  verify_report v;
  v.ok = r.getOk();
  v.violations.reserve(r.getViolations().size());
  for (auto text : r.getViolations())
    v.violations.push_back(to_string(text));
  v.tenants_checked = r.getTenantsChecked();
  v.accounts_checked = r.getAccountsChecked();
  v.transfers_checked = r.getTransfersChecked();
  return v;
}

void to_wire(const cluster_node_status& n, api::ClusterNode::Builder o) {
  o.setId(n.id);
  o.setIncarnation(n.incarnation);
  o.setRpcAddress(n.rpc_address);
  o.setClusterAddress(n.cluster_address);
  o.setMetricsAddress(n.metrics_address);
  o.setRegion(n.region);
  o.setState(n.state);
  o.setHeartbeatAgeMs(n.heartbeat_age_ms);
  o.setShards(n.shards);
}

cluster_node_status from_wire(api::ClusterNode::Reader n) {
  cluster_node_status o;
  o.id = to_string(n.getId());
  o.incarnation = n.getIncarnation();
  o.rpc_address = to_string(n.getRpcAddress());
  o.cluster_address = to_string(n.getClusterAddress());
  o.metrics_address = to_string(n.getMetricsAddress());
  o.region = to_string(n.getRegion());
  o.state = to_string(n.getState());
  o.heartbeat_age_ms = n.getHeartbeatAgeMs();
  o.shards = n.getShards();
  return o;
}

void to_wire(const cluster_status& s, api::ClusterStatus::Builder b) {
  b.setShardCount(s.shard_count);
  b.setShardsOwned(s.shards_owned);
  b.setShardsUnowned(s.shards_unowned);
  auto list = b.initNodes(static_cast<unsigned>(s.nodes.size()));
  for (unsigned i = 0; i < list.size(); ++i)
    to_wire(s.nodes[i], list[i]);
}

cluster_status from_wire(api::ClusterStatus::Reader r) {
  cluster_status s;
  s.shard_count = r.getShardCount();
  s.shards_owned = r.getShardsOwned();
  s.shards_unowned = r.getShardsUnowned();
  s.nodes.reserve(r.getNodes().size());
  for (auto n : r.getNodes())
    s.nodes.push_back(from_wire(n));
  return s;
}

void to_wire(const fault& f, api::Fault::Builder b) {
  b.setKind(static_cast<api::FaultKind>(static_cast<uint16_t>(f.kind)));
  b.setTenantId(f.tenant.value);
  b.setAccountIdHi(f.account.value.hi);
  b.setAccountIdLo(f.account.value.lo);
  b.setDelayMs(f.delay_ms);
}

std::optional<fault> from_wire(api::Fault::Reader r) {
  const auto kind = static_cast<uint16_t>(r.getKind());
  if (kind > fault_kind_max)
    return std::nullopt;
  fault f;
  f.kind = static_cast<fault_kind>(kind);
  f.tenant = tenant_id{r.getTenantId()};
  f.account = account_id{u128{r.getAccountIdHi(), r.getAccountIdLo()}};
  f.delay_ms = r.getDelayMs();
  return f;
}

}  // namespace caudal::wire
