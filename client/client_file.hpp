#pragma once
// The client defaults file: where the node is, the operator's credentials, and each tenant's client.
//
//   {"server": "127.0.0.1:7400", "ca_file": "/path/ca.pem", "client_id": "operator", "client_secret": "...",
//    "tenants": {"<tenant_id>": {"name": "...", "client_id": "...", "client_secret": "..."}}}
//
// scripts/cluster writes it; `caudal tenant create` adds tenants to it. It holds secrets: written
// atomically (temp file + rename) with mode 0600. Keys this code does not know are kept as they were.
// Plain value functions, no global state; safe on any thread (the file itself is not locked: the last
// writer wins).
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace caudal::client {

struct tenant_credentials {
  std::string name;
  std::string client_id;
  std::string client_secret;
};

struct client_file {
  std::string server;
  std::string ca_file;    // the CA that signed the nodes' TLS certificates (relative: to the file's folder)
  bool insecure = false;  // plain TCP to a node started with --insecure (development only)
  std::string client_id;  // the operator's client
  std::string client_secret;
  std::map<uint64_t, tenant_credentials> tenants;   // by tenant id
  nlohmann::json other = nlohmann::json::object();  // unknown top-level keys, written back unchanged
};

// Where the file is: $CAUDAL_CLIENT_FILE if set (non-empty); else the nearest `.caudal/client.json` walking
// up from `start` (default: the current directory); else $HOME/.caudal/client.json (which may not exist
// yet). nullopt only when none applies (no $HOME).
std::optional<std::filesystem::path> locate_client_file(const std::filesystem::path& start = {});

// A missing file reads as an empty client_file. A file that is not valid JSON of the shape above answers
// errc::invalid_request with the reason in detail (never a secret).
result<client_file> load_client_file(const std::filesystem::path& path);

// Writes `path.tmp.<pid>` with mode 0600, fsyncs it, renames it over `path` and fsyncs the folder. Creates
// the folder (mode 0700) when missing. errc::internal with the reason in detail on failure.
result<void> save_client_file(const std::filesystem::path& path, const client_file& f);

// The tenant whose id (decimal) or name is `id_or_name`; an id match wins over a name match.
struct tenant_entry {
  uint64_t id = 0;
  const tenant_credentials* credentials = nullptr;
};
std::optional<tenant_entry> find_tenant(const client_file& f, std::string_view id_or_name);

// Adds or replaces the tenant's credentials.
void add_tenant(client_file& f, uint64_t tenant_id, tenant_credentials c);

// JSON form (exposed for tests).
nlohmann::json to_json(const client_file& f);
result<client_file> client_file_from_json(const nlohmann::json& j);

}  // namespace caudal::client
