// strata-info: what this build of Strata is (version, CUDA, UCX, transports)
// and every STRATA_* variable with its type, default, current value and help,
// like ucx_info -c. It also validates the environment: a bad value fails here
// with the message the runtime would give, before a job is launched.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <ucp/api/ucp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "runtime/config/config.h"
#include "runtime/config/nccl_env.h"

#ifndef STRATA_VERSION
#error "STRATA_VERSION must be defined by the build (tools/CMakeLists.txt)"
#endif

namespace strata::runtime {
namespace {

constexpr bool kHaveCuda = STRATA_HAVE_CUDA != 0;

// Transports compiled into every build; the UCX one reaches other processes,
// the loopback one joins ranks inside one process (ncclCommInitAll).
constexpr std::array<std::string_view, 3> kTransports{"shm (same host)", "ucx", "loopback (in-process)"};

std::string_view type_name(ConfigType type) {
  switch (type) {
    case ConfigType::kInt: return "int";
    case ConfigType::kFloat: return "float";
    case ConfigType::kBytes: return "bytes";
    case ConfigType::kString: return "string";
    case ConfigType::kChoice: return "choice";
    case ConfigType::kBool: return "bool";
  }
  return "?";
}

// One printable row per variable: the table's declaration plus the value now.
struct Row {
  const ConfigVar* var;
  std::string value;
};

std::vector<Row> config_rows() {
  const auto values = config_values();
  std::vector<Row> rows;
  for (const ConfigVar& var : config_table()) {
    const auto found = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == var.name; });
    rows.push_back({&var, found == values.end() ? std::string(var.default_value) : found->second});
  }
  return rows;
}

std::string help_text(const ConfigVar& var) {
  if (var.choices.empty()) return std::string(var.help);
  const char* label = var.type == ConfigType::kChoice ? "one of" : "range";
  return fmt::format("{} [{} {}]", var.help, label, var.choices);
}

// Splits `text` into lines of at most `width` characters at spaces.
std::vector<std::string> wrap(std::string_view text, size_t width) {
  std::vector<std::string> lines(1);
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(start, end - start);
    if (!lines.back().empty() && lines.back().size() + 1 + word.size() > width) lines.emplace_back();
    if (!lines.back().empty()) lines.back() += ' ';
    lines.back() += word;
    start = end + 1;
  }
  return lines;
}

void print_text() {
  fmt::print("# Strata version {}\n", STRATA_VERSION);
  fmt::print("# CUDA support: {}\n", kHaveCuda ? "yes" : "no (host memory only)");
  fmt::print("# UCX version: {}\n", ucp_get_version_string());
  fmt::print("# Transports: {}\n#\n", fmt::join(kTransports, ", "));
  const std::vector<Row> rows = config_rows();
  size_t name_w = 4, type_w = 4, default_w = 7, value_w = 5;
  for (const Row& row : rows) {
    name_w = std::max(name_w, row.var->name.size());
    type_w = std::max(type_w, type_name(row.var->type).size());
    default_w = std::max(default_w, row.var->default_value.size() + 2);
    value_w = std::max(value_w, row.value.size() + 2);
  }
  const std::string format = fmt::format("{{:<{}}}  {{:<{}}}  {{:<{}}}  {{:<{}}}  {{}}\n", name_w, type_w, default_w, value_w);
  const auto line = [&](auto&&... columns) { fmt::print(fmt::runtime(format), columns...); };
  line("NAME", "TYPE", "DEFAULT", "VALUE", "HELP");
  for (const Row& row : rows) {
    const auto help = wrap(help_text(*row.var), 72);
    line(row.var->name, type_name(row.var->type), fmt::format("\"{}\"", row.var->default_value),
         fmt::format("\"{}\"", row.value), help.front());
    for (size_t i = 1; i < help.size(); ++i) line("", "", "", "", help[i]);
  }
}

// NCCL_* variables: which are set, and what Strata does with each.
void print_nccl_text() {
  fmt::print("#\n# NCCL_* variables (programs written for NCCL may set these)\n");
  for (const NcclVariable& var : nccl_variables()) {
    const char* value = std::getenv(std::string(var.name).c_str());
    const auto help = wrap(var.treatment, 72);
    fmt::print("{:<20}  {:<14}  {}\n", var.name, value ? fmt::format("\"{}\"", value) : "(unset)", help.front());
    for (size_t i = 1; i < help.size(); ++i) fmt::print("{:<20}  {:<14}  {}\n", "", "", help[i]);
  }
}

nlohmann::ordered_json nccl_json() {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const NcclVariable& var : nccl_variables()) {
    const char* value = std::getenv(std::string(var.name).c_str());
    list.push_back({{"name", var.name},
                    {"value", value ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr)},
                    {"stands_in_for", var.strata_name},
                    {"treatment", var.treatment}});
  }
  return list;
}

void print_json() {
  nlohmann::ordered_json config = nlohmann::ordered_json::array();
  for (const Row& row : config_rows()) {
    config.push_back({{"name", row.var->name},
                      {"type", type_name(row.var->type)},
                      {"default", row.var->default_value},
                      {"value", row.value},
                      {"choices", row.var->choices},
                      {"help", row.var->help}});
  }
  const nlohmann::ordered_json info{{"version", STRATA_VERSION},
                            {"cuda", kHaveCuda},
                            {"ucx_version", ucp_get_version_string()},
                            {"transports", kTransports},
                            {"config", config},
                            {"nccl_variables", nccl_json()}};
  fmt::print("{}\n", info.dump(2));
}

}  // namespace
}  // namespace strata::runtime

int main(int argc, char** argv) {
  CLI::App app{"strata-info: print Strata's version, build features and STRATA_* configuration", "strata-info"};
  bool json = false;
  app.add_flag("--json", json, "Print the same information as JSON");
  CLI11_PARSE(app, argc, argv);
  try {
    // Parses and validates every STRATA_* variable, as a communicator would.
    strata::runtime::config();
  } catch (const strata::Error& error) {
    fmt::print(stderr, "strata-info: {}\n", error.what());
    return 1;
  }
  if (json) {
    strata::runtime::print_json();
  } else {
    strata::runtime::print_text();
    strata::runtime::print_nccl_text();
  }
  return 0;
}
