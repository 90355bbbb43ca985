// admin_store: tenants and their first client in one transaction, name uniqueness (tenant_exists), client
// lookups, the operator client upsert.
#include <doctest/doctest.h>

#include <chrono>

#include "storage/admin_store.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/test_env.hpp"

using namespace caudal;
using namespace caudal::test;

TEST_CASE("tenants: create, find, list; a taken name is tenant_exists and writes nothing") {
  test_database db("admin");
  auto c = db.connect();
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto a = storage::create_tenant(*c, "acme", "AR", "acme-app", "$argon2id$hash-a");
  REQUIRE_MESSAGE(a.ok(), why(a));
  CHECK(a->id.value >= 1);
  CHECK(a->name == "acme");
  CHECK(a->country == "AR");
  CHECK(a->created_at_ms >= now_ms - 60'000);
  CHECK(a->created_at_ms <= now_ms + 60'000);
  auto b = storage::create_tenant(*c, "Bodega Ñandú", "MX", "bodega-app", "$argon2id$hash-b");
  REQUIRE(b.ok());
  CHECK(b->id.value > a->id.value);

  auto dup = storage::create_tenant(*c, "acme", "CL", "acme-other-app", "h");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == errc::tenant_exists);
  CHECK_FALSE(storage::find_client(*c, "acme-other-app")->has_value());  // the client was rolled back with it

  auto taken_client = storage::create_tenant(*c, "fresh", "CL", "acme-app", "h");
  REQUIRE_FALSE(taken_client.ok());
  CHECK(taken_client.error().code == errc::invalid_request);
  CHECK(scalar(*c, "SELECT count(*) FROM tenants WHERE name = 'fresh'") == "0");
  CHECK(PQtransactionStatus(c->raw()) == PQTRANS_IDLE);

  CHECK(storage::create_tenant(*c, "", "AR", "x", "h").error().code == errc::invalid_request);
  CHECK(storage::create_tenant(*c, std::string(200, 'n'), "AR", "x", "h").error().code == errc::invalid_request);

  auto list = storage::list_tenants(*c);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK(list.value()[0].id == a->id);
  CHECK(list.value()[1].name == "Bodega Ñandú");
  CHECK(list.value()[1].country == "MX");

  auto found = storage::find_tenant(*c, b->id);
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK(found.value()->name == "Bodega Ñandú");
  CHECK(found.value()->created_at_ms == b->created_at_ms);
  auto missing = storage::find_tenant(*c, tenant_id(123456));
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
}

TEST_CASE("clients: a tenant's client, the operator client upsert, revocation") {
  test_database db("clients");
  auto c = db.connect();
  auto t = storage::create_tenant(*c, "acme", "AR", "acme-app", "hash-1");
  REQUIRE(t.ok());

  auto client = storage::find_client(*c, "acme-app");
  REQUIRE(client.ok());
  REQUIRE(client->has_value());
  CHECK(client.value()->client_id == "acme-app");
  REQUIRE(client.value()->tenant.has_value());
  CHECK(*client.value()->tenant == t->id);
  CHECK(client.value()->secret_hash == "hash-1");
  CHECK_FALSE(client.value()->admin);
  CHECK_FALSE(client.value()->revoked);
  CHECK_FALSE(storage::find_client(*c, "nobody")->has_value());

  REQUIRE(storage::upsert_admin_client(*c, "operator", "op-hash-1").ok());
  auto op = storage::find_client(*c, "operator");
  REQUIRE(op.ok());
  REQUIRE(op->has_value());
  CHECK(op.value()->admin);
  CHECK_FALSE(op.value()->tenant.has_value());
  CHECK(op.value()->secret_hash == "op-hash-1");
  REQUIRE(storage::upsert_admin_client(*c, "operator", "op-hash-2").ok());  // the scripts rotate the secret
  CHECK(storage::find_client(*c, "operator")->value().secret_hash == "op-hash-2");
  CHECK(scalar(*c, "SELECT count(*) FROM clients WHERE client_id = 'operator'") == "1");

  // A tenant's client id never becomes an operator through the upsert.
  auto hijack = storage::upsert_admin_client(*c, "acme-app", "evil");
  REQUIRE_FALSE(hijack.ok());
  CHECK(hijack.error().code == errc::invalid_request);
  auto still = storage::find_client(*c, "acme-app")->value();
  CHECK_FALSE(still.admin);
  CHECK(still.secret_hash == "hash-1");

  sql_ok(*c, "UPDATE clients SET revoked_at = now() WHERE client_id = 'acme-app'");
  CHECK(storage::find_client(*c, "acme-app")->value().revoked);
}

TEST_CASE("admin calls on a dead connection are database_unavailable") {
  test_database db("admin_dead");
  auto c = db.connect("caudal-admin-dead");
  auto admin = db.connect("caudal-test-admin");
  const std::string pid = std::to_string(c->backend_pid());
  REQUIRE(admin->query("SELECT pg_terminate_backend($1::int)", {pid.c_str()}).ok());
  auto r = storage::create_tenant(*c, "late", "AR", "late-app", "h");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == errc::database_unavailable);
  CHECK(storage::list_tenants(*c).error().code == errc::database_unavailable);
  CHECK(storage::verify(*c).error().code == errc::database_unavailable);
  REQUIRE(c->reconnect().ok());
  CHECK(storage::create_tenant(*c, "late", "AR", "late-app", "h").ok());
}
