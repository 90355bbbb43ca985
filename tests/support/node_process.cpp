#include "tests/support/node_process.hpp"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace caudal::test {

namespace {

std::string make_temp_dir() {
  char tmpl[] = "/tmp/caudal-node-test-XXXXXX";
  char* d = mkdtemp(tmpl);
  REQUIRE_MESSAGE(d != nullptr, "cannot create a temp folder");
  return d;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string field(const std::string& line, const std::string& key) {
  auto p = line.find(key + "=");
  if (p == std::string::npos)
    return {};
  p += key.size() + 1;
  auto e = line.find_first_of(" \n", p);
  return line.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

bool wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Removes the certificates folder when the test process exits.
struct tls_dir_holder {
  std::string path;
  tls_dir_holder() {
    path = make_temp_dir();
    int status = 0;
    std::string out = run_command(std::string(CAUDAL_SCRIPTS_DIR) + "/lib/make-certs '" + path +
                                      "' node --clients client 2>&1 && " + CAUDAL_SCRIPTS_DIR + "/lib/make-certs '" +
                                      path + "/other-ca' node 2>&1",
                                  &status);
    REQUIRE_MESSAGE(status == 0, "make-certs failed: " << out);
  }
  ~tls_dir_holder() { std::filesystem::remove_all(path); }
};

}  // namespace

const std::string& test_tls_dir() {
  static tls_dir_holder dir;
  return dir.path;
}

std::string node_process::ca_file() const {
  if (!opts_.tls)
    return {};
  return opts_.tls_ca_file.empty() ? test_tls_dir() + "/ca.pem" : opts_.tls_ca_file;
}

node_process::node_process(node_options opts) : node_process(std::move(opts), deferred) {
  start();
}

node_process::node_process(node_options opts, deferred_t) : opts_(std::move(opts)) {
  dir_ = make_temp_dir();
  log_ = dir_ + "/node.log";
  {
    std::ofstream s(dir_ + "/operator.secret");
    s << opts_.operator_secret << "\n";
  }
  chmod((dir_ + "/operator.secret").c_str(), 0600);
  {
    std::ofstream k(dir_ + "/token.key");
    k << opts_.key_encryption_key_hex << "\n";
  }
  chmod((dir_ + "/token.key").c_str(), 0600);
}

node_process::~node_process() {
  if (pid_ > 0)
    stop();
  // The log is kept only when asked (CAUDAL_KEEP_TEST_LOGS=1); failing tests print its tail themselves.
  const char* keep = std::getenv("CAUDAL_KEEP_TEST_LOGS");
  if (keep == nullptr || std::string(keep) != "1")
    std::filesystem::remove_all(dir_);
}

void node_process::launch() {
  REQUIRE(pid_ <= 0);
  const std::string ready = dir_ + "/ready";
  std::remove(ready.c_str());
  std::vector<std::string> args = {CAUDAL_NODE_BINARY,
                                   "--pg-url",
                                   opts_.pg_url,
                                   "--rpc-listen",
                                   "127.0.0.1:0",
                                   "--http-listen",
                                   "127.0.0.1:0",
                                   "--cluster-listen",
                                   "127.0.0.1:0",
                                   "--sql-dir",
                                   CAUDAL_SQL_DIR,
                                   "--operator-client-id",
                                   opts_.operator_client_id,
                                   "--operator-secret-file",
                                   dir_ + "/operator.secret",
                                   "--log-file",
                                   log_,
                                   "--log-level",
                                   "debug"};
  if (opts_.test_hooks)
    args.push_back("--test-hooks");
  args.insert(args.end(), {"--auth-key-file", dir_ + "/token.key"});
  if (opts_.tls) {
    const std::string& d = test_tls_dir();
    auto or_default = [&](const std::string& given, const char* name) { return given.empty() ? d + name : given; };
    args.insert(args.end(), {"--tls-cert-file", or_default(opts_.tls_cert_file, "/node.pem"), "--tls-key-file",
                             or_default(opts_.tls_key_file, "/node.key"), "--tls-ca-file", ca_file()});
  } else {
    args.push_back("--insecure");
  }
  for (auto& a : opts_.extra_args)
    args.push_back(a);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The node dies with the test process, even when the test crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setenv("CAUDAL_READY_FILE", ready.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
}

void node_process::start() {
  launch();
  const std::string ready = dir_ + "/ready";
  // Generous: a busy 2-core machine, Argon2 hashing of the operator secret, migrations.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string line = read_file(ready);
    if (line.find('\n') != std::string::npos) {
      rpc_ = field(line, "rpc");
      http_ = field(line, "http");
      cluster_ = field(line, "cluster");
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("caudal-node exited during start; log:\n" << log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("caudal-node did not become ready within 60 s; log:\n" << log_tail());
}

int node_process::start_refused(std::chrono::seconds timeout) {
  launch();
  const std::string ready = dir_ + "/ready";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (read_file(ready).find('\n') != std::string::npos) {
      stop();
      FAIL_CHECK("caudal-node started although it should have been refused; log:\n" << log_tail());
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  FAIL_CHECK("caudal-node neither served nor exited within " << timeout.count() << " s; log:\n" << log_tail());
  return -1;
}

std::string node_process::log_text() const { return read_file(log_); }

void node_process::stop() {
  if (pid_ <= 0)
    return;
  kill(pid_, SIGTERM);
  if (!wait_exit(pid_, std::chrono::seconds(20))) {
    kill(pid_, SIGKILL);
    wait_exit(pid_, std::chrono::seconds(10));
  }
  pid_ = -1;
}

void node_process::kill9() {
  if (pid_ <= 0)
    return;
  kill(pid_, SIGKILL);
  wait_exit(pid_, std::chrono::seconds(10));
  pid_ = -1;
}

std::string node_process::log_tail(size_t lines) const {
  std::string all = read_file(log_);
  size_t pos = all.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = all.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      pos = 0;
      break;
    }
  }
  return all.substr(pos);
}

std::string run_command(const std::string& cmd, int* exit_status) {
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p != nullptr, "cannot run: " << cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  int st = pclose(p);
  if (exit_status)
    *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

}  // namespace caudal::test
