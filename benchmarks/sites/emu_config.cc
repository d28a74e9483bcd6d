#include "emu_config.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace strata::sites {
namespace {

constexpr const char* kUsage =
    "usage: strata-wan-emu --site NAME:NETNS_PATH:TUN [--site ...]\n"
    "         --link I>J:delay_us=N,jitter_us=N,rate_bps=N,loss=P,"
    "queue_bytes=N,reorder=0|1 [--link ...]\n"
    "         --stats FILE [--links-file FILE] [--stats-interval-ms N]\n"
    "         [--late-threshold-us N]\n"
    "         [--warn-interval-ms N] [--seed N] [--rt-priority N]\n"
    "Moves IPv4 packets between per-site TUN devices; site j owns "
    "198.18.j.0/24.\n"
    "SIGHUP rereads --links-file (\"generation N\", then --link lines).\n"
    "Normally started by `strata-sites up`, not by hand.\n";

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool parse_double(std::string_view text, double& out) {
  std::string copy(text);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size();
}

bool parse_site(std::string_view text, SiteSpec& site) {
  auto parts = split(text, ':');
  if (parts.size() != 3) return false;
  site = SiteSpec{std::string(parts[0]), std::string(parts[1]),
                  std::string(parts[2])};
  return !site.name.empty() && !site.netns_path.empty() &&
         !site.tun_name.empty();
}

bool parse_link_field(std::string_view key, std::string_view value,
                      LinkParams& link) {
  int64_t us = 0;
  if (key == "delay_us" && parse_number(value, us)) {
    link.delay_ns = us * 1000;
    return us >= 0;
  }
  if (key == "jitter_us" && parse_number(value, us)) {
    link.jitter_ns = us * 1000;
    return us >= 0;
  }
  if (key == "rate_bps") return parse_number(value, link.rate_bps);
  if (key == "queue_bytes") return parse_number(value, link.queue_bytes);
  if (key == "loss") {
    return parse_double(value, link.loss) && link.loss >= 0 && link.loss <= 1;
  }
  if (key == "reorder") {
    link.reorder = value == "1";
    return value == "0" || value == "1";
  }
  return false;
}

// "I>J:key=value,..." -> (I, J, params)
bool parse_link(std::string_view text, size_t& from, size_t& to,
                LinkParams& link) {
  size_t colon = text.find(':');
  auto ends = split(text.substr(0, colon), '>');
  if (ends.size() != 2 || !parse_number(ends[0], from) ||
      !parse_number(ends[1], to)) {
    return false;
  }
  if (colon == std::string_view::npos) return true;
  for (std::string_view field : split(text.substr(colon + 1), ',')) {
    size_t eq = field.find('=');
    if (eq == std::string_view::npos ||
        !parse_link_field(field.substr(0, eq), field.substr(eq + 1), link)) {
      std::fprintf(stderr, "strata-wan-emu: bad link field '%.*s'\n",
                   int(field.size()), field.data());
      return false;
    }
  }
  return true;
}

bool parse_ms_option(const char* value, int64_t scale, int64_t& out) {
  int64_t n = 0;
  if (!parse_number(std::string_view(value), n) || n <= 0) return false;
  out = n * scale;
  return true;
}

bool parse_one(std::string_view flag, const char* value, EmuConfig& config,
               std::vector<LinkUpdate>& links) {
  if (flag == "--site") {
    SiteSpec site;
    if (!parse_site(value, site)) return false;
    config.sites.push_back(site);
    return true;
  }
  if (flag == "--link") {
    LinkUpdate link{};
    if (!parse_link(value, link.from, link.to, link.params)) return false;
    links.push_back(link);
    return true;
  }
  if (flag == "--stats") {
    config.stats_path = value;
    return true;
  }
  if (flag == "--links-file") {
    config.links_path = value;
    return true;
  }
  if (flag == "--seed") return parse_number(std::string_view(value), config.seed);
  if (flag == "--rt-priority")
    return parse_number(std::string_view(value), config.rt_priority);
  if (flag == "--stats-interval-ms")
    return parse_ms_option(value, 1'000'000, config.stats_interval_ns);
  if (flag == "--warn-interval-ms")
    return parse_ms_option(value, 1'000'000, config.warn_interval_ns);
  if (flag == "--late-threshold-us")
    return parse_ms_option(value, 1'000, config.late_threshold_ns);
  return false;
}

bool is_site_pair(const LinkUpdate& link, size_t site_count) {
  if (link.from < site_count && link.to < site_count && link.from != link.to) {
    return true;
  }
  std::fprintf(stderr, "strata-wan-emu: link %zu>%zu: no such site pair\n",
               link.from, link.to);
  return false;
}

bool place_links(const std::vector<LinkUpdate>& pending, EmuConfig& config) {
  size_t n = config.sites.size();
  config.links.assign(n * n, std::nullopt);
  for (const LinkUpdate& link : pending) {
    if (!is_site_pair(link, n)) return false;
    config.links[link.from * n + link.to] = link.params;
  }
  return true;
}

bool parse_update_line(std::string_view line, size_t site_count,
                       LinkUpdates& out, bool& has_generation) {
  constexpr std::string_view kGeneration = "generation ";
  if (line.starts_with(kGeneration)) {
    has_generation = true;
    return parse_number(line.substr(kGeneration.size()), out.generation);
  }
  LinkUpdate link{};
  if (!parse_link(line, link.from, link.to, link.params) ||
      !is_site_pair(link, site_count)) {
    return false;
  }
  out.links.push_back(link);
  return true;
}

}  // namespace

std::optional<EmuConfig> parse_emu_args(int argc, char** argv) {
  EmuConfig config;
  std::vector<LinkUpdate> links;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(kExitOk);
    }
    if (i + 1 >= argc || !parse_one(flag, argv[i + 1], config, links)) {
      std::fprintf(stderr, "strata-wan-emu: bad argument '%s %s'\n%s",
                   argv[i], i + 1 < argc ? argv[i + 1] : "", kUsage);
      return std::nullopt;
    }
    ++i;
  }
  if (config.sites.size() < 2 || config.sites.size() > 250 ||
      config.stats_path.empty()) {
    std::fprintf(stderr, "strata-wan-emu: need 2..250 --site and --stats\n%s",
                 kUsage);
    return std::nullopt;
  }
  if (!place_links(links, config)) return std::nullopt;
  return config;
}

std::optional<LinkUpdates> parse_link_updates(std::string_view text,
                                              size_t site_count) {
  LinkUpdates updates;
  bool has_generation = false;
  for (std::string_view line : split(text, '\n')) {
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (!parse_update_line(line, site_count, updates, has_generation)) {
      std::fprintf(stderr, "strata-wan-emu: links file: bad line '%.*s'\n",
                   int(line.size()), line.data());
      return std::nullopt;
    }
  }
  if (!has_generation) {
    std::fputs("strata-wan-emu: links file has no 'generation N' line\n",
               stderr);
    return std::nullopt;
  }
  return updates;
}

}  // namespace strata::sites
