#include "topology/topology_file.h"

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace strata::topology {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& path, const std::string& field, const std::string& why) {
  fail(ErrorCode::kInvalidArgument, {-1, -1, "topology file"}, "topology file {}: {}: {}", path, field, why);
}

const json& member(const json& object, const char* key, const std::string& path, const std::string& field) {
  if (!object.is_object()) bad(path, field, "expected an object");
  const auto found = object.find(key);
  if (found == object.end()) bad(path, field + "." + key, "missing");
  return *found;
}

std::string site_reference(const json& value, const std::string& path, const std::string& field) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_unsigned()) return "#" + std::to_string(value.get<uint64_t>());
  bad(path, field, "expected a site name or index");
}

double positive_number(const json& value, const std::string& path, const std::string& field) {
  if (!value.is_number() || value.get<double>() < 0) bad(path, field, "expected a non-negative number");
  return value.get<double>();
}

std::vector<SiteSpec> parse_sites(const json& root, const std::string& path) {
  const json& sites = member(root, "sites", path, "(top level)");
  if (!sites.is_array() || sites.empty()) bad(path, "sites", "expected a non-empty array");
  std::vector<SiteSpec> specs;
  std::map<std::string, std::string> site_of_host;
  for (size_t i = 0; i < sites.size(); ++i) {
    const std::string field = "sites[" + std::to_string(i) + "]";
    const json& name = member(sites[i], "name", path, field);
    if (!name.is_string() || name.get<std::string>().empty()) bad(path, field + ".name", "expected a non-empty string");
    SiteSpec spec{name.get<std::string>(), {}};
    for (const SiteSpec& other : specs)
      if (other.name == spec.name) bad(path, field + ".name", "site '" + spec.name + "' is listed twice");
    const json& hosts = member(sites[i], "hosts", path, field);
    if (!hosts.is_array() || hosts.empty()) bad(path, field + ".hosts", "expected a non-empty array of host ids");
    for (size_t h = 0; h < hosts.size(); ++h) {
      const std::string host_field = field + ".hosts[" + std::to_string(h) + "]";
      if (!hosts[h].is_string()) bad(path, host_field, "expected a string");
      const std::string host = hosts[h].get<std::string>();
      const auto [it, inserted] = site_of_host.emplace(host, spec.name);
      if (!inserted) bad(path, host_field, "host '" + host + "' is already in site '" + it->second + "'");
      spec.hosts.push_back(host);
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

int site_index(const TopologyFile& file, const std::string& reference, const std::string& field) {
  if (reference.starts_with("#")) {
    const int index = std::stoi(reference.substr(1));
    if (index < static_cast<int>(file.sites.size())) return index;
  }
  for (size_t i = 0; i < file.sites.size(); ++i)
    if (file.sites[i].name == reference) return static_cast<int>(i);
  bad(file.path, field, "unknown site '" + reference + "'");
}

}  // namespace

std::optional<int> TopologyFile::site_of_host(std::string_view host) const {
  for (size_t i = 0; i < sites.size(); ++i)
    for (const std::string& listed : sites[i].hosts)
      if (listed == host) return static_cast<int>(i);
  return std::nullopt;
}

TopologyFile parse_topology_file(std::string_view json_text, const std::string& path) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& error) {  // parse_error, and out_of_range for a number too large
    bad(path, "(syntax)", error.what());
  }
  TopologyFile file{path, parse_sites(root, path), {}, topology_file_hash(json_text)};
  if (!root.contains("links")) return file;
  const json& links = root["links"];
  if (!links.is_array()) bad(path, "links", "expected an array");
  for (size_t i = 0; i < links.size(); ++i) {
    const std::string field = "links[" + std::to_string(i) + "]";
    LinkSpec link;
    link.site_a = site_index(file, site_reference(member(links[i], "a", path, field), path, field + ".a"), field + ".a");
    link.site_b = site_index(file, site_reference(member(links[i], "b", path, field), path, field + ".b"), field + ".b");
    if (link.site_a == link.site_b) bad(path, field, "a link joins two different sites");
    link.rtt_ms = positive_number(member(links[i], "rtt_ms", path, field), path, field + ".rtt_ms");
    if (links[i].contains("gbps")) link.gbps = positive_number(links[i]["gbps"], path, field + ".gbps");
    file.links.push_back(link);
  }
  return file;
}

uint64_t topology_file_hash(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

TopologyFile load_topology_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) bad(path, "(file)", "cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_topology_file(text.str(), path);
}

}  // namespace strata::topology
