#pragma once
// The process-wide OpenSSL policy: TLS 1.3 is the minimum for every SSL_CTX this process creates (DESIGN 9
// and 11). CAF's OpenSSL module (inter-node TLS, later) sets no minimum version itself and kj-tls can only
// express TLS 1.3 through an out-of-range enumerant; OpenSSL's own configuration closes both gaps: its
// ssl_conf module's `system_default` section applies to every SSL_CTX_new. The configuration is loaded
// from a built-in text (no file an operator could lose or edit by mistake), replacing the system's
// openssl.cnf default (TLS 1.2 on Debian); it also covers libpq's connections to PostgreSQL.
//
// Idempotent and thread-safe (std::call_once); the first call does the work and checks it took effect on
// a fresh SSL_CTX. The node calls it first thing in main(); make_server_tls/make_client_tls call it too.
#include "base/result.hpp"

namespace caudal::security {

// errc::internal with OpenSSL's reason when the configuration cannot be loaded or does not take effect.
result<void> enforce_tls13_minimum();

// The configuration text loaded (for the documentation and tests).
const char* tls13_openssl_config();

}  // namespace caudal::security
