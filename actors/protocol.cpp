#include "actors/protocol.hpp"

namespace caudal::actors {

caf::error to_error(const failure& f) {
  return f.detail.empty() ? caf::make_error(f.code) : caf::make_error(f.code, f.detail);
}

std::string detail_of(const caf::error& e) {
  if (e.context().match_elements<std::string>())
    return e.context().get_as<std::string>(0);
  return {};
}

errc to_errc(const caf::error& e) {
  if (!e)
    return errc::none;
  if (e.category() == caf::atom("caudal")) {
    uint8_t code = e.code();
    return code <= errc_max ? static_cast<errc>(code) : errc::internal;
  }
  if (e.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(e.code())) {
      case caf::sec::request_timeout: return errc::timeout;
      case caf::sec::request_receiver_down: return errc::tenant_unavailable;
      default: return errc::internal;
    }
  }
  if (e.category() == caf::atom("exit"))
    return errc::tenant_unavailable;  // the actor that held the request went down
  return errc::internal;
}

}  // namespace caudal::actors
