#include "security/openssl_policy.hpp"

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <mutex>
#include <string>

namespace caudal::security {

namespace {

constexpr const char* config_text =
    "openssl_conf = caudal_init\n"
    "[caudal_init]\n"
    "ssl_conf = caudal_ssl\n"
    "[caudal_ssl]\n"
    "system_default = caudal_tls\n"
    "[caudal_tls]\n"
    "MinProtocol = TLSv1.3\n"
    // A library that sets its own minimum version on its contexts replaces MinProtocol; the protocol
    // options (SSL_OP_NO_TLSv1_2 and older) are only ever added to, so they still hold.
    "Protocol = -ALL, TLSv1.3\n";

std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0)
    return "no OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

result<void> load_once() {
  // The ssl_conf module is registered by libssl's initialisation; the system's openssl.cnf is not loaded
  // here (its system_default would say TLSv1.2 on Debian), ours is.
  if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) != 1)
    return failure{errc::internal, "OpenSSL initialisation failed: " + openssl_reason()};
  BIO* bio = BIO_new_mem_buf(config_text, static_cast<int>(std::strlen(config_text)));
  CONF* conf = NCONF_new(nullptr);
  long bad_line = 0;
  bool loaded = bio != nullptr && conf != nullptr && NCONF_load_bio(conf, bio, &bad_line) > 0 &&
                CONF_modules_load(conf, nullptr, 0) > 0;
  std::string reason = loaded ? std::string() : openssl_reason();
  NCONF_free(conf);
  BIO_free(bio);
  if (!loaded)
    return failure{errc::internal, "cannot load the TLS 1.3 OpenSSL configuration: " + reason};
  // Trust, but verify: a fresh context must refuse anything below TLS 1.3.
  SSL_CTX* probe = SSL_CTX_new(TLS_method());
  if (probe == nullptr)
    return failure{errc::internal, "SSL_CTX_new failed: " + openssl_reason()};
  long min = SSL_CTX_get_min_proto_version(probe);
  bool no_tls12 = (SSL_CTX_get_options(probe) & SSL_OP_NO_TLSv1_2) != 0;
  SSL_CTX_free(probe);
  if (min != TLS1_3_VERSION || !no_tls12)
    return failure{errc::internal, "the OpenSSL configuration did not set TLS 1.3 as the minimum"};
  return {};
}

}  // namespace

result<void> enforce_tls13_minimum() {
  static std::once_flag once;
  static result<void> outcome;
  std::call_once(once, [] { outcome = load_once(); });
  return outcome;
}

const char* tls13_openssl_config() { return config_text; }

}  // namespace caudal::security
