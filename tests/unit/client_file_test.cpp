// The client defaults file (client/client_file.hpp): locate, load, save, tenants.
#include "client/client_file.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace caudal;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the temp dir, removed at the end; restores the environment it changes.
struct temp_env {
  fs::path root;
  std::string old_cwd = fs::current_path().string();
  std::string old_home = std::getenv("HOME") ? std::getenv("HOME") : "";
  std::string old_file = std::getenv("CAUDAL_CLIENT_FILE") ? std::getenv("CAUDAL_CLIENT_FILE") : "";

  temp_env() {
    std::string tmpl = (fs::temp_directory_path() / "caudal-client-file-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    root = fs::canonical(tmpl);
    unsetenv("CAUDAL_CLIENT_FILE");
  }
  ~temp_env() {
    fs::current_path(old_cwd);
    restore("HOME", old_home);
    restore("CAUDAL_CLIENT_FILE", old_file);
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  static void restore(const char* name, const std::string& value) {
    if (value.empty()) {
      unsetenv(name);
    } else {
      setenv(name, value.c_str(), 1);
    }
  }
  static void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
};

}  // namespace

TEST_CASE("locate: $CAUDAL_CLIENT_FILE, else the nearest .caudal/client.json up, else $HOME") {
  temp_env env;
  const fs::path home = env.root / "home";
  const fs::path project = env.root / "project";
  const fs::path deep = project / "a" / "b";
  fs::create_directories(deep);
  fs::create_directories(home);
  setenv("HOME", home.c_str(), 1);

  // Nothing anywhere: the $HOME default, which may not exist yet.
  CHECK(client::locate_client_file(deep) == home / ".caudal" / "client.json");
  // The nearest one walking up wins over $HOME and farther ones.
  temp_env::write(project / ".caudal" / "client.json", "{}");
  CHECK(client::locate_client_file(deep) == project / ".caudal" / "client.json");
  temp_env::write(project / "a" / ".caudal" / "client.json", "{}");
  CHECK(client::locate_client_file(deep) == project / "a" / ".caudal" / "client.json");
  // The current directory by default.
  fs::current_path(deep);
  CHECK(client::locate_client_file() == project / "a" / ".caudal" / "client.json");
  // The environment wins over everything (even when the file does not exist yet).
  setenv("CAUDAL_CLIENT_FILE", (env.root / "elsewhere.json").c_str(), 1);
  CHECK(client::locate_client_file(deep) == env.root / "elsewhere.json");
  // An empty variable counts as unset.
  setenv("CAUDAL_CLIENT_FILE", "", 1);
  CHECK(client::locate_client_file(deep) == project / "a" / ".caudal" / "client.json");
}

TEST_CASE("load: missing file is empty; the documented shape; unknown keys kept") {
  temp_env env;
  auto missing = client::load_client_file(env.root / "none.json");
  REQUIRE(missing.ok());
  CHECK(missing->server.empty());
  CHECK(missing->tenants.empty());

  const fs::path p = env.root / "client.json";
  temp_env::write(p, R"({"server": "127.0.0.1:7400", "client_id": "operator", "client_secret": "op-secret",
    "pg_url": "postgres://x", "tenants": {"42": {"name": "acme", "client_id": "t42", "client_secret": "s42"},
                                          "18446744073709551615": {"name": "max", "client_id": "tm"}}})");
  auto f = client::load_client_file(p);
  REQUIRE_MESSAGE(f.ok(), f.error().detail);
  CHECK(f->server == "127.0.0.1:7400");
  CHECK(f->client_id == "operator");
  CHECK(f->client_secret == "op-secret");
  REQUIRE(f->tenants.size() == 2);
  CHECK(f->tenants.at(42).name == "acme");
  CHECK(f->tenants.at(42).client_id == "t42");
  CHECK(f->tenants.at(42).client_secret == "s42");
  CHECK(f->tenants.at(UINT64_MAX).client_secret.empty());
  CHECK(f->other["pg_url"] == "postgres://x");
}

TEST_CASE("load: a malformed file is an error that names the file and never quotes a secret") {
  temp_env env;
  const fs::path p = env.root / "client.json";
  for (const char* text :
       {R"({"client_secret": "topsecret", )", R"([1, 2])", R"({"server": 5})", R"({"tenants": {"abc": {}}})",
        R"({"tenants": {"1": {"client_secret": 5}}})", R"({"tenants": []})"}) {
    INFO(text);
    temp_env::write(p, text);
    auto f = client::load_client_file(p);
    REQUIRE_FALSE(f.ok());
    CHECK(f.error().code == errc::invalid_request);
    CHECK(f.error().detail.find(p.string()) != std::string::npos);
    CHECK(f.error().detail.find("topsecret") == std::string::npos);
  }
}

TEST_CASE("save: atomic, mode 0600, folder created, round trip, tenants added") {
  temp_env env;
  const fs::path p = env.root / "new" / ".caudal" / "client.json";
  client::client_file f;
  f.server = "10.0.0.1:7400";
  f.client_id = "operator";
  f.client_secret = "op";
  f.other["pg_url"] = "postgres://x";
  client::add_tenant(f, 7, {"acme", "t7", "s7"});
  client::add_tenant(f, 8, {"beta", "t8", "s8"});
  client::add_tenant(f, 7, {"acme", "t7b", "s7b"});  // replaces
  auto saved = client::save_client_file(p, f);
  REQUIRE_MESSAGE(saved.ok(), saved.error().detail);

  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(p.parent_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);
  // No temp file left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(p.parent_path()))
    ++entries;
  CHECK(entries == 1);

  auto back = client::load_client_file(p);
  REQUIRE(back.ok());
  CHECK(back->server == f.server);
  CHECK(back->client_id == f.client_id);
  CHECK(back->client_secret == f.client_secret);
  CHECK(back->other["pg_url"] == "postgres://x");
  REQUIRE(back->tenants.size() == 2);
  CHECK(back->tenants.at(7).client_id == "t7b");
  CHECK(back->tenants.at(8).name == "beta");

  // Overwriting an existing file keeps 0600 even if it was wider.
  ::chmod(p.c_str(), 0644);
  REQUIRE(client::save_client_file(p, *back).ok());
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // A folder that cannot be written answers an error, not an exception.
  CHECK_FALSE(client::save_client_file("/proc/caudal-no/client.json", f).ok());
}

TEST_CASE("find a tenant by id or by name") {
  client::client_file f;
  client::add_tenant(f, 42, {"acme", "t42", "s42"});
  client::add_tenant(f, 43, {"7", "t43", "s43"});  // a name that looks like an id
  auto by_id = client::find_tenant(f, "42");
  REQUIRE(by_id);
  CHECK(by_id->id == 42);
  CHECK(by_id->credentials->client_id == "t42");
  auto by_name = client::find_tenant(f, "acme");
  REQUIRE(by_name);
  CHECK(by_name->id == 42);
  auto numeric_name = client::find_tenant(f, "7");
  REQUIRE(numeric_name);
  CHECK(numeric_name->id == 43);
  CHECK_FALSE(client::find_tenant(f, "44"));
  CHECK_FALSE(client::find_tenant(f, "ACME"));
  CHECK_FALSE(client::find_tenant(f, ""));
}

TEST_CASE("the CA file and the insecure flag round-trip; wrong types are refused") {
  client::client_file f;
  f.server = "127.0.0.1:7400";
  f.ca_file = "/etc/caudal/ca.pem";
  auto j = client::to_json(f);
  CHECK(j.at("ca_file") == "/etc/caudal/ca.pem");
  CHECK_FALSE(j.contains("insecure"));  // written only when set
  auto back = client::client_file_from_json(j);
  REQUIRE(back.ok());
  CHECK(back->ca_file == "/etc/caudal/ca.pem");
  CHECK_FALSE(back->insecure);
  CHECK(back->other.empty());
  f.insecure = true;
  auto plain = client::client_file_from_json(client::to_json(f));
  REQUIRE(plain.ok());
  CHECK(plain->insecure);
  CHECK_FALSE(client::client_file_from_json(nlohmann::json{{"ca_file", 7}}).ok());
  CHECK_FALSE(client::client_file_from_json(nlohmann::json{{"insecure", "yes"}}).ok());
}
