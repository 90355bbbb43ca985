// caudal: the command line of Caudal. Everything is in caudal_cli_lib (cli/app.cpp), so tests run it too.
#include <iostream>

#include "cli/app.hpp"

int main(int argc, char** argv) {
  return caudal::cli::run(argc, argv, std::cout, std::cerr);
}
