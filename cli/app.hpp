#pragma once
// `caudal`: the command line of Caudal (issue 2, point 8), a client of the RPC API and nothing else.
// main() calls run(); tests call it in-process with their own streams.
#include <ostream>

namespace caudal::cli {

// Parses the command line (CLI11), runs the command, returns the exit code: 0 processed, 1 request
// failed, 2 usage error (parse.hpp). Never throws.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace caudal::cli
