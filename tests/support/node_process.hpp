#pragma once
// A real caudal-node process for integration tests: started on free ports (port 0, addresses read back
// from CAUDAL_READY_FILE), with its own log file, stopped (or killed) by the test.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace caudal::test {

struct node_options {
  std::string pg_url;                          // the test's database
  std::string operator_client_id = "operator";
  std::string operator_secret = "test-operator-secret-0123456789";
  bool test_hooks = true;
  bool tls = true;  // TLS 1.3 with the test CA's certificate; false: --insecure (plain TCP)
  // Other TLS files than test_tls_dir()'s node.pem, node.key and ca.pem (each empty: that one), e.g. a node
  // of another CA.
  std::string tls_cert_file, tls_key_file, tls_ca_file;
  // auth.key_file's content: encrypts the token signing keys in PostgreSQL (tests may read them back)
  std::string key_encryption_key_hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  std::vector<std::string> extra_args;  // more flags, e.g. {"--account-idle-ms", "200"}
};

class node_process {
 public:
  explicit node_process(node_options opts);  // starts and waits until it serves (fails the test if not)
  // Prepared but not started: call start() or start_refused().
  struct deferred_t {};
  static constexpr deferred_t deferred{};
  node_process(node_options opts, deferred_t);
  ~node_process();                           // SIGTERM, then SIGKILL after a grace period
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  void start();
  // Starts a node that must refuse to start: waits until it exits on its own and answers its exit status.
  // Fails the test (and stops it) if it serves instead, or neither serves nor exits within `timeout`.
  int start_refused(std::chrono::seconds timeout = std::chrono::seconds(60));
  void stop();       // SIGTERM and wait
  void kill9();      // SIGKILL and wait: a crash
  void restart() { stop(); start(); }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // for signals a test sends itself (SIGSTOP/SIGCONT)

  const std::string& rpc_address() const { return rpc_; }
  const std::string& http_address() const { return http_; }
  const std::string& cluster_address() const { return cluster_; }  // where other nodes connect (mutual TLS)
  const std::string& log_path() const { return log_; }
  // The CA that signed the node's certificate (empty when started without TLS); clients trust it.
  std::string ca_file() const;
  const node_options& options() const { return opts_; }
  std::string log_tail(size_t lines = 40) const;
  std::string log_text() const;  // the whole log

 private:
  void launch();  // forks and execs the node; start() and start_refused() wait for it

  node_options opts_;
  std::string dir_;  // temp folder: log, ready file, operator secret
  std::string log_;
  std::string rpc_;
  std::string http_;
  std::string cluster_;
  pid_t pid_ = -1;
};

// The folder of this test process's CAs and certificates (made once with scripts/lib/make-certs, removed at
// exit): ca.pem (the cluster CA), node.pem/node.key (what nodes present, signed by ca.pem), client-ca.pem
// and client.pem/client.key (a client certificate, signed by the client CA), and other-ca/ (a second,
// unrelated CA with its own node certificate, for the "certificate from another CA" tests).
const std::string& test_tls_dir();

// Runs a shell command and returns its stdout (fails the test when it cannot run).
std::string run_command(const std::string& cmd, int* exit_status = nullptr);

}  // namespace caudal::test
