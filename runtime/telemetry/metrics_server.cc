#include "runtime/telemetry/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/error.h"
#include "common/log.h"
#include "runtime/bootstrap/socket_io.h"
#include "runtime/config/config.h"
#include "runtime/telemetry/metrics.h"
#include "runtime/telemetry/trace.h"

namespace strata::runtime::telemetry {
namespace {

struct Family {
  const char* name;
  const char* type;
  const char* help;
};

constexpr std::array kFamilies = {
    Family{"strata_link_bytes_total", "counter", "Bytes moved over a link (whole link: lane=\"all\") by completed transfers"},
    Family{"strata_link_messages_total", "counter", "Transfers completed over a link"},
    Family{"strata_link_busy_seconds_total", "counter",
           "Time at least one transfer was in flight on a link, per direction (bytes / busy = achieved rate)"},
    Family{"strata_link_errors_total", "counter", "Transfers over a link that failed"},
    Family{"strata_link_model_bytes_per_second", "gauge", "The planner's bandwidth for a link (measured or assumed)"},
    Family{"strata_link_model_latency_seconds", "gauge", "The planner's one-way latency for a link (measured or assumed)"},
    Family{"strata_link_model_changes_total", "counter",
           "Times the live link model changed the planner's view of a link and the plans were redone"},
    Family{"strata_collective_calls_total", "counter", "Collective calls completed or failed, per algorithm"},
    Family{"strata_collective_failures_total", "counter", "Collective calls that failed, per algorithm"},
    Family{"strata_collective_bytes_total", "counter", "Bytes of the calls' buffers (send side), per algorithm"},
    Family{"strata_collective_seconds", "histogram", "Latency of collective calls, per algorithm"},
    Family{"strata_collective_running_seconds", "gauge",
           "How long the call now running on this rank has run (0: none); a rank at 0 while its peers wait is late"},
};

// TCP segments this network namespace retransmitted (/proc/net/snmp), or -1.
long long tcp_retransmitted_segments() {
  std::ifstream snmp("/proc/net/snmp");
  std::string header, values;
  while (std::getline(snmp, header) && std::getline(snmp, values)) {
    if (!header.starts_with("Tcp:")) continue;
    std::istringstream names(header), numbers(values);
    std::string name, number;
    while (names >> name && numbers >> number)
      if (name == "RetransSegs") return std::atoll(number.c_str());
  }
  return -1;
}

std::string process_text() {
  std::string out;
  if (const long long retransmits = tcp_retransmitted_segments(); retransmits >= 0)
    out += fmt::format(
        "# HELP strata_tcp_retransmitted_segments_total TCP segments retransmitted in this process's network "
        "namespace (all of its flows, not only Strata's)\n# TYPE strata_tcp_retransmitted_segments_total counter\n"
        "strata_tcp_retransmitted_segments_total {}\n",
        retransmits);
  if (TraceLog* trace = TraceLog::get())
    out += fmt::format(
        "# HELP strata_trace_dropped_events_total Trace events dropped past the in-memory limit\n"
        "# TYPE strata_trace_dropped_events_total counter\nstrata_trace_dropped_events_total {}\n",
        trace->dropped());
  return out;
}

// The launcher's idea of this process's index among the ranks on its host, or -1.
int local_rank_from_environment() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* value = std::getenv(name); value && *value) return std::atoi(value);
  return -1;
}

net::Fd listen_at(in_addr address, uint16_t port) {
  net::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return {};
  sockaddr_in where{};
  where.sin_family = AF_INET;
  where.sin_addr = address;
  where.sin_port = htons(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&where), sizeof where) != 0 || ::listen(fd.get(), 16) != 0)
    return {};
  net::set_nonblocking(fd.get());
  return fd;
}

std::string response_for(std::string_view request) {
  const bool metrics = request.starts_with("GET /metrics ") || request.starts_with("GET / ") ||
                       request.starts_with("GET /metrics?");
  const std::string body = metrics ? prometheus_text() : "not found: try /metrics\n";
  return fmt::format("HTTP/1.1 {}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                     "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                     metrics ? "200 OK" : "404 Not Found", body.size(), body);
}

// Reads the request head (to its blank line) and answers it, within one second.
void serve(int client) {
  const net::Deadline deadline = net::deadline_after(1.0);
  std::string request;
  std::array<char, 2048> buffer{};
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
    pollfd want{client, POLLIN, 0};
    if (::poll(&want, 1, net::milliseconds_until(deadline)) <= 0) return;
    const ssize_t got = ::read(client, buffer.data(), buffer.size());
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) return;
    request.append(buffer.data(), static_cast<size_t>(got));
  }
  const std::string response = response_for(request);
  net::write_all(client, response.data(), response.size(), deadline);
}

struct Endpoint {
  std::mutex mutex;
  std::string address;  // "addr:port" once listening
  bool started = false;
};
Endpoint& endpoint() {
  static auto* made = new Endpoint;  // never destroyed: its thread runs until exit
  return *made;
}

void accept_forever(net::Fd listener) {
  for (;;) {
    pollfd want{listener.get(), POLLIN, 0};
    if (::poll(&want, 1, 1000) <= 0) continue;
    net::Fd client(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (client.valid()) serve(client.get());
  }
}

}  // namespace

std::string prometheus_text() {
  std::map<std::string, std::string> families;
  for_each_comm([&](const CommMetrics& comm) { comm.render(families); });
  std::string out;
  for (const Family& family : kFamilies) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name, family.help, family.name, family.type);
    out += families[family.name];
  }
  return out + process_text();
}

std::string start_metrics_endpoint() {
  Endpoint& state = endpoint();
  std::lock_guard lock(state.mutex);
  if (state.started || config().metrics_port <= 0) return state.address;
  state.started = true;
  in_addr address{};
  try {
    address = net::resolve_ipv4(config().metrics_addr);
  } catch (const Error& error) {
    log(LogLevel::kWarn, "STRATA_METRICS_ADDR='{}': {}; no metrics endpoint", config().metrics_addr, error.what());
    return {};
  }
  const int base = config().metrics_port;
  const int local = std::max(local_rank_from_environment(), 0);
  for (int offset = 0; offset < 256; ++offset) {
    const int port = base + (local + offset) % 256;
    if (port > 65535) continue;
    net::Fd listener = listen_at(address, static_cast<uint16_t>(port));
    if (!listener.valid()) continue;
    state.address = fmt::format("{}:{}", config().metrics_addr, port);
    std::thread(accept_forever, std::move(listener)).detach();
    log(LogLevel::kInfo, "metrics: serving http://{}/metrics", state.address);
    return state.address;
  }
  log(LogLevel::kWarn, "STRATA_METRICS_PORT={}: no free port in {}..{} on {}; no metrics endpoint", base, base,
      base + 255, config().metrics_addr);
  return {};
}

std::string metrics_endpoint() {
  std::lock_guard lock(endpoint().mutex);
  return endpoint().address;
}

}  // namespace strata::runtime::telemetry
