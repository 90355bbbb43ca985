// The `caudal` binary itself: exit codes and output of usage errors and of a node that is not there.
// Needs the binary built (build/cli/caudal, found beside this test's build folder).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

fs::path cli_binary() {
  // <build>/tests/unit/cli_binary_test -> <build>/cli/caudal
  return fs::canonical("/proc/self/exe").parent_path().parent_path().parent_path() / "cli" / "caudal";
}

struct ran {
  int code = -1;
  std::string out;
  std::string err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A fresh temp folder; CAUDAL_CLIENT_FILE points into it (at a file that does not exist), so no client
// file of the machine running the tests is read.
struct sandbox {
  fs::path dir;
  std::string old = std::getenv("CAUDAL_CLIENT_FILE") ? std::getenv("CAUDAL_CLIENT_FILE") : "";
  sandbox() {
    std::string tmpl = (fs::temp_directory_path() / "caudal-bin-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    setenv("CAUDAL_CLIENT_FILE", (dir / "client.json").c_str(), 1);
  }
  ~sandbox() {
    if (old.empty()) {
      unsetenv("CAUDAL_CLIENT_FILE");
    } else {
      setenv("CAUDAL_CLIENT_FILE", old.c_str(), 1);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  ran caudal(const std::string& args) const {
    const fs::path err_file = dir / "stderr.txt";
    const std::string cmd = quote(cli_binary().string()) + " " + args + " 2>" + quote(err_file.string());
    ran r;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
      r.out.append(buf.data(), n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::stringstream e;
    e << std::ifstream(err_file).rdbuf();
    r.err = e.str();
    return r;
  }
};

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the binary exists") {
  INFO(cli_binary().string());
  REQUIRE(fs::exists(cli_binary()));
}

TEST_CASE("usage errors exit 2 and print nothing on stdout") {
  sandbox s;
  struct usage_case {
    const char* args;
    const char* err;  // part of the message
  };
  const usage_case cases[] = {
      {"", "subcommand is required"},
      {"bogus", ""},
      {"--json account", "subcommand is required"},
      {"account create --id 1 --ledger 1 --code 1", "--tenant is required"},
      {"account create --tenant 1 --id 1 --ledger 1 --code x --json", "--code: expected a whole number"},
      {"account create --tenant 1 --id 1 --ledger 1", "--code is required"},
      {"account create --tenant 1 --id 1 --ledger 1 --code 1 --flags pending", "unknown account flag 'pending'"},
      {"account create --tenant 1 --id 1 --file x.json", "excludes"},
      {"account create --tenant 1 --id 1 --ledger 1 --code 1 --unknown", ""},
      {"transfer create --tenant 1 --id 1 --post 2 --void 3", "excludes"},
      {"transfer create --tenant 1 --id 1 --debit 1 --credit 2 --ledger 1 --code 1", "--amount is required"},
      {"account get --tenant 1 --id 340282366920938463463374607431768211456", "--id: expected a whole number"},
      {"account transfers --tenant 1 --id 1 --limit 0 --json", "--limit"},
      {"account transfers --tenant 1 --id 1 --after x", "--after"},
      {"account get --tenant 1 --id 1 --json", "no credentials for tenant '1'"},
      {"tenant list --json", "no operator credentials"},
  };
  for (const auto& c : cases) {
    INFO("caudal " << c.args);
    const ran r = s.caudal(c.args);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK_MESSAGE(contains(r.err, c.err), r.err);
  }
}

TEST_CASE("a bad items file is a usage error naming the item and key") {
  sandbox s;
  const fs::path items = s.dir / "t.json";
  std::ofstream(items) << R"([{"id": 1, "debit": 1, "credit": 2, "amount": 5, "ledger": 1, "code": 1},
                              {"id": 2, "debit": 1, "credit": 2, "amount": 5.5, "ledger": 1, "code": 1}])";
  const ran r = s.caudal("transfer create --tenant 1 --json --file " + items.string());
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK_MESSAGE(contains(r.err, "item 1, key \"amount\""), r.err);
}

TEST_CASE("help exits 0") {
  sandbox s;
  const ran r = s.caudal("transfer create --help");
  CHECK(r.code == 0);
  CHECK(contains(r.out, "--balancing-debit"));
  CHECK(contains(r.out, "--file"));
}

TEST_CASE("a refused connection exits 1 with node_down (retryable)") {
  sandbox s;
  // (--insecure: nothing listens there, so no TLS files are needed to find that out)
  const std::string server = "--insecure --server 127.0.0.1:" + std::to_string(closed_port());
  ran r = s.caudal(server + " --client-id a --client-secret b verify --json");
  CHECK(r.code == 1);
  CHECK(r.out == "{\"error\":\"node_down\",\"retryable\":true}\n");
  r = s.caudal("account create --tenant 1 --id 1 --ledger 1 --code 1 --json --client-id a --client-secret b " + server);
  CHECK(r.code == 1);
  CHECK(r.out == "{\"error\":\"node_down\",\"retryable\":true}\n");
  r = s.caudal(server + " --client-id a --client-secret hunter2 tenant list");
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  CHECK(contains(r.err, "node_down (retryable)"));
  CHECK_FALSE(contains(r.err, "hunter2"));
}

TEST_CASE("without a CA file and without --insecure the CLI does not connect") {
  sandbox s;
  const std::string server = "--server 127.0.0.1:" + std::to_string(closed_port());
  ran r = s.caudal(server + " --client-id a --client-secret b verify");
  CHECK(r.code == 2);
  CHECK(contains(r.err, "--ca-file"));
  r = s.caudal(server + " --ca-file /nonexistent/ca.pem --client-id a --client-secret b verify");
  CHECK(r.code == 1);
  CHECK(contains(r.err, "/nonexistent/ca.pem"));
}
