// caudal-node: one node of the Caudal cluster. See cluster/node.hpp and config/node.example.toml.
#include <iostream>

#include "cluster/node.hpp"
#include "cluster/node_config.hpp"
#include "security/openssl_policy.hpp"

int main(int argc, char** argv) {
  // Before anything else uses OpenSSL: every TLS context of this process (client API, libpq, later CAF's
  // inter-node module) gets TLS 1.3 as its minimum.
  if (auto policy = caudal::security::enforce_tls13_minimum(); !policy.ok()) {
    std::cerr << "caudal-node: " << policy.error().detail << "\n";
    return 1;
  }
  auto cfg = caudal::cluster::load_node_config(argc, argv);
  if (!cfg.ok()) {
    if (cfg.error().code == caudal::errc::none)
      return 0;  // --help
    std::cerr << "caudal-node: " << cfg.error().detail << "\n";
    return 2;
  }
  return caudal::cluster::run_node(cfg.value());
}
