// The revocation listener (storage/revocation_listener.hpp) against a real server: it hears a revocation
// when, and only when, it commits; it acts only on ids the clients table says are revoked; it stays
// bounded under a flood; it comes back after losing its connection; stop() is prompt in every state.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "storage/revocation_listener.hpp"
#include "storage/security_store.hpp"
#include "tests/support/storage_test_helpers.hpp"
#include "tests/support/test_database.hpp"

using namespace caudal;
using caudal::test::test_database;
using caudal::test::why;
using namespace std::chrono_literals;

namespace {

// What the hooks reported, from the listener's thread; the test waits on it.
struct recorder {
  std::mutex m;
  std::condition_variable cv;
  int listening = 0;
  int lost = 0;
  std::vector<std::string> revoked;
  size_t malformed = 0, not_revoked = 0, overflow = 0;

  storage::revocation_listener_hooks hooks() {
    storage::revocation_listener_hooks h;
    h.listening = [this] { update([&] { ++listening; }); };
    h.lost = [this](const failure&, uint32_t) { update([&] { ++lost; }); };
    h.revoked = [this](std::vector<std::string> ids) {
      update([&] { revoked.insert(revoked.end(), ids.begin(), ids.end()); });
    };
    h.ignored = [this](size_t bad, size_t unknown) {
      update([&] {
        malformed += bad;
        not_revoked += unknown;
      });
    };
    h.overflow = [this](size_t n) { update([&] { overflow += n; }); };
    return h;
  }
  template <class F>
  void update(F f) {
    std::lock_guard<std::mutex> l(m);
    f();
    cv.notify_all();
  }
  // Waits until `p` holds (under the lock) or `limit` passes; whether it holds.
  template <class P>
  bool wait(P p, std::chrono::milliseconds limit = 10s) {
    std::unique_lock<std::mutex> l(m);
    return cv.wait_for(l, limit, p);
  }
  bool heard(const std::string& id) { return std::find(revoked.begin(), revoked.end(), id) != revoked.end(); }
};

void make_client(storage::pg_connection& c, const std::string& id) {
  auto r = storage::create_client(c, id, std::nullopt, 8, "not-a-real-hash");
  REQUIRE_MESSAGE(r.ok(), why(r));
}

void sql_ok(storage::pg_connection& c, const std::string& sql) {
  auto r = c.exec(sql);
  REQUIRE_MESSAGE(r.ok(), why(r));
}

storage::revocation_listener_config config_of(const test_database& db) {
  storage::revocation_listener_config cfg;
  cfg.pg_url = db.url();
  cfg.application_name = "caudal-revocations-test";
  return cfg;
}

// How long f() took, in ms (a number, so failed checks print it).
template <class F>
long time_of(F f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

TEST_CASE("a revocation is heard when it commits, never before, and only if the clients table agrees") {
  test_database db("revlisten");
  auto c = db.connect();
  for (const char* id : {"client-a", "client-b", "client-c", "NULL"})
    make_client(*c, id);

  recorder rec;
  auto cfg = config_of(db);
  cfg.max_batch = 10;
  storage::revocation_listener listener(cfg, rec.hooks());
  REQUIRE(listener.start().ok());
  REQUIRE(rec.wait([&] { return rec.listening == 1; }));

  // Inside a transaction: nothing until COMMIT, then at once.
  sql_ok(*c, "BEGIN");
  REQUIRE(storage::revoke_client(*c, "client-a").ok());
  CHECK_FALSE(rec.wait([&] { return !rec.revoked.empty(); }, 300ms));
  sql_ok(*c, "COMMIT");
  CHECK(rec.wait([&] { return rec.heard("client-a"); }, 1000ms));

  // Rolled back: never heard.
  sql_ok(*c, "BEGIN");
  REQUIRE(storage::revoke_client(*c, "client-b").ok());
  sql_ok(*c, "ROLLBACK");
  CHECK_FALSE(rec.wait([&] { return rec.heard("client-b"); }, 300ms));

  // Forged notifications: an active client, an unknown one, "NULL" (a real, active client: the array
  // literal must not read it as a null), malformed payloads. None is reported as revoked.
  sql_ok(*c,
         "SELECT pg_notify('caudal_revocations', 'client-b'), pg_notify('caudal_revocations', 'nobody'), "
         "pg_notify('caudal_revocations', 'NULL'), pg_notify('caudal_revocations', ''), "
         "pg_notify('caudal_revocations', 'a b'), pg_notify('caudal_revocations', 'x\",\"client-c'), "
         "pg_notify('caudal_revocations', repeat('x', 129))");
  CHECK(rec.wait([&] { return rec.malformed == 4 && rec.not_revoked == 3; }));
  {
    std::lock_guard<std::mutex> l(rec.m);
    CHECK(rec.revoked == std::vector<std::string>{"client-a"});
  }

  // An id announced again (revoked through two nodes) is reported again: harmless, the gateway knows it.
  REQUIRE(storage::revoke_client(*c, "client-a").ok());
  CHECK(rec.wait([&] { return rec.revoked.size() == 2; }));

  // A flood in one transaction: at most max_batch ids are checked per wake-up, the rest dropped and
  // reported as overflow (the owner catches up instead).
  sql_ok(*c, "SELECT pg_notify('caudal_revocations', 'flood-' || i) FROM generate_series(1, 50) AS i");
  CHECK(rec.wait([&] { return rec.not_revoked + rec.overflow == 3 + 50; }));
  {
    std::lock_guard<std::mutex> l(rec.m);
    CHECK(rec.overflow > 0);
    CHECK(rec.revoked.size() == 2);
  }
  CHECK(rec.lost == 0);
  CHECK(time_of([&] { listener.stop(); }) < 500);
}

TEST_CASE("the listener comes back after its backend is terminated, and says so") {
  test_database db("revlisten_lost");
  auto c = db.connect();
  make_client(*c, "client-a");
  recorder rec;
  storage::revocation_listener listener(config_of(db), rec.hooks());
  REQUIRE(listener.start().ok());
  REQUIRE(rec.wait([&] { return rec.listening == 1; }));

  auto killed = c->query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND "
      "application_name = 'caudal-revocations-test'",
      {});
  REQUIRE_MESSAGE(killed.ok(), why(killed));
  REQUIRE(killed->size() == 1);
  CHECK(rec.wait([&] { return rec.lost == 1 && rec.listening == 2; }));
  REQUIRE(storage::revoke_client(*c, "client-a").ok());
  CHECK(rec.wait([&] { return rec.heard("client-a"); }, 1000ms));
}

TEST_CASE("stop() is prompt: idle, waiting to retry, and connecting to a server that never answers") {
  test_database db("revlisten_stop", /*migrate=*/false);
  SUBCASE("waiting to retry (a port nobody listens on, a minute between attempts)") {
    recorder rec;
    storage::revocation_listener_config cfg;
    cfg.pg_url = "postgresql://caudal@127.0.0.1:1/none";
    cfg.retry_min_ms = 60000;
    storage::revocation_listener listener(cfg, rec.hooks());
    REQUIRE(listener.start().ok());
    REQUIRE(rec.wait([&] { return rec.lost == 1; }));
    std::this_thread::sleep_for(200ms);  // in its wait by now (the hook runs just before it)
    CHECK(time_of([&] { listener.stop(); }) < 500);
    CHECK(rec.listening == 0);
  }
  SUBCASE("connecting to a server that accepts the connection and then says nothing") {
    // A socket that listens but never accepts: the kernel completes the handshake, libpq waits for the
    // server's answer (up to its 10 s connect timeout).
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(s >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(s, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    recorder rec;
    storage::revocation_listener_config cfg;
    cfg.pg_url = "postgresql://caudal@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/none?sslmode=disable";
    storage::revocation_listener listener(cfg, rec.hooks());
    REQUIRE(listener.start().ok());
    std::this_thread::sleep_for(300ms);
    CHECK(time_of([&] { listener.stop(); }) < 500);
    CHECK(rec.listening == 0);
    ::close(s);
  }
  SUBCASE("idle, listening") {
    recorder rec;
    storage::revocation_listener listener(config_of(db), rec.hooks());
    REQUIRE(listener.start().ok());
    REQUIRE(rec.wait([&] { return rec.listening == 1; }));
    std::this_thread::sleep_for(200ms);  // in its wait on the socket by now
    CHECK(time_of([&] { listener.stop(); }) < 500);
    CHECK(rec.lost == 0);
  }
}
