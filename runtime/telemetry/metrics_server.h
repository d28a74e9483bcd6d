// The Prometheus endpoint (STRATA_METRICS_PORT): one thread per process
// serving GET /metrics in the text exposition format (version 0.0.4) from
// every live communicator's counters, on loopback unless
// STRATA_METRICS_ADDR says otherwise. Each connection is served within a
// deadline and closed, so a stuck client cannot hold the endpoint.
#pragma once

#include <string>

namespace strata::runtime::telemetry {

// Every live communicator's metrics and the process's, with HELP and TYPE lines.
std::string prometheus_text();

// Starts the endpoint once per process when STRATA_METRICS_PORT is set:
// PORT + this rank's local rank on the host (from the launcher's
// environment) if free, else the next free port up to PORT + 255. Returns
// "addr:port", or "" when there is no endpoint. Failing to listen logs a
// warning and leaves the job running.
std::string start_metrics_endpoint();

// The endpoint's "addr:port", or "" before start or without one.
std::string metrics_endpoint();

}  // namespace strata::runtime::telemetry
