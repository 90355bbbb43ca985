// caudal-node: one node of the Caudal cluster. See cluster/node.hpp and config/node.example.toml.
#include <iostream>

#include "cluster/node.hpp"
#include "cluster/node_config.hpp"

int main(int argc, char** argv) {
  auto cfg = caudal::cluster::load_node_config(argc, argv);
  if (!cfg.ok()) {
    if (cfg.error().code == caudal::errc::none)
      return 0;  // --help
    std::cerr << "caudal-node: " << cfg.error().detail << "\n";
    return 2;
  }
  return caudal::cluster::run_node(cfg.value());
}
