// The client defaults file (see client_file.hpp).
#include "client/client_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "base/u128.hpp"

namespace caudal::client {

namespace fs = std::filesystem;

namespace {

failure bad_file(const std::string& why) {
  return failure{errc::invalid_request, why};
}

failure io_error(const std::string& what, const fs::path& p, int err) {
  return failure{errc::internal, what + " " + p.string() + ": " + std::strerror(err)};
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  auto v = parse_u128(text);
  if (!v || v->hi != 0)
    return std::nullopt;
  return v->lo;
}

// Reads an optional string member; false when present with another type.
bool get_string(const nlohmann::json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return true;
  if (!it->is_string())
    return false;
  out = it->get<std::string>();
  return true;
}

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::optional<fs::path> locate_client_file(const fs::path& start) {
  if (const char* env = std::getenv("CAUDAL_CLIENT_FILE"); env && *env)
    return fs::path(env);
  std::error_code ec;
  fs::path dir = start.empty() ? fs::current_path(ec) : start;
  if (!ec && !dir.empty()) {
    dir = fs::absolute(dir, ec);
    for (int depth = 0; !ec && depth < 256; ++depth) {  // bounded: a path has far fewer parts
      const fs::path candidate = dir / ".caudal" / "client.json";
      std::error_code missing;  // not found sets it too: only the answer matters here
      if (fs::is_regular_file(candidate, missing))
        return candidate;
      if (!dir.has_parent_path() || dir.parent_path() == dir)
        break;
      dir = dir.parent_path();
    }
  }
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".caudal" / "client.json";
  return std::nullopt;
}

nlohmann::json to_json(const client_file& f) {
  nlohmann::json j = f.other.is_object() ? f.other : nlohmann::json::object();
  j["server"] = f.server;
  j["client_id"] = f.client_id;
  j["client_secret"] = f.client_secret;
  if (!f.ca_file.empty())
    j["ca_file"] = f.ca_file;
  if (f.insecure)
    j["insecure"] = true;
  nlohmann::json tenants = nlohmann::json::object();
  for (const auto& [id, c] : f.tenants) {
    tenants[std::to_string(id)] = {{"name", c.name}, {"client_id", c.client_id}, {"client_secret", c.client_secret}};
  }
  j["tenants"] = std::move(tenants);
  return j;
}

result<client_file> client_file_from_json(const nlohmann::json& j) {
  if (!j.is_object())
    return bad_file("expected a JSON object");
  client_file f;
  const std::pair<const char*, std::string*> fields[] = {
      {"server", &f.server}, {"client_id", &f.client_id}, {"client_secret", &f.client_secret},
      {"ca_file", &f.ca_file}};
  for (const auto& [key, out] : fields) {
    if (!get_string(j, key, *out))
      return bad_file(std::string("\"") + key + "\" must be a string");
  }
  if (auto it = j.find("insecure"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean())
      return bad_file("\"insecure\" must be true or false");
    f.insecure = it->get<bool>();
  }
  if (auto it = j.find("tenants"); it != j.end() && !it->is_null()) {
    if (!it->is_object())
      return bad_file("\"tenants\" must be an object keyed by tenant id");
    for (const auto& [key, value] : it->items()) {
      auto id = parse_u64(key);
      if (!id)
        return bad_file("tenant key \"" + key + "\" is not a tenant id");
      if (!value.is_object())
        return bad_file("tenant " + key + " must be an object");
      tenant_credentials c;
      if (!get_string(value, "name", c.name) || !get_string(value, "client_id", c.client_id) ||
          !get_string(value, "client_secret", c.client_secret)) {
        return bad_file("tenant " + key + ": name, client_id and client_secret must be strings");
      }
      f.tenants[*id] = std::move(c);
    }
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "server" && key != "client_id" && key != "client_secret" && key != "tenants" && key != "ca_file" &&
        key != "insecure")
      f.other[key] = value;
  }
  return f;
}

result<client_file> load_client_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec) && !ec)
    return client_file{};
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return failure{errc::internal, "cannot read " + path.string()};
  std::stringstream text;
  text << in.rdbuf();
  const std::string data = text.str();
  if (data.find_first_not_of(" \t\r\n") == std::string::npos)
    return client_file{};
  // No exceptions: a parse error becomes a discarded value. Its message would quote the input (secrets).
  nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return bad_file(path.string() + ": not valid JSON");
  auto f = client_file_from_json(j);
  if (!f)
    return bad_file(path.string() + ": " + f.error().detail);
  return f;
}

result<void> save_client_file(const fs::path& path, const client_file& f) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      return failure{errc::internal, "cannot create " + dir.string() + ": " + ec.message()};
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);  // 0700: it holds secrets
  }
  const std::string data = to_json(f).dump(2) + "\n";
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return io_error("cannot create", tmp, errno);
  // The mode argument is filtered by the umask; state 0600 explicitly (and nothing wider).
  if (::fchmod(fd, 0600) != 0 || !write_all(fd, data) || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error("cannot write", tmp, err);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot write", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot replace", path, err);
  }
  // The rename is durable once the folder is synced.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

std::optional<tenant_entry> find_tenant(const client_file& f, std::string_view id_or_name) {
  if (auto id = parse_u64(id_or_name)) {
    if (auto it = f.tenants.find(*id); it != f.tenants.end())
      return tenant_entry{it->first, &it->second};
  }
  for (const auto& [id, c] : f.tenants) {
    if (!c.name.empty() && c.name == id_or_name)
      return tenant_entry{id, &c};
  }
  return std::nullopt;
}

void add_tenant(client_file& f, uint64_t tenant_id, tenant_credentials c) {
  f.tenants[tenant_id] = std::move(c);
}

}  // namespace caudal::client
