// A communicator's private state, shared by communicator*.cc and group.cc.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <span>
#include <vector>

#include "collectives/network.h"
#include "runtime/memory/node_shared_memory.h"
#include "runtime/communicator/comm_ids.h"
#include "runtime/communicator/communicator.h"
#include "runtime/communicator/flight_recorder.h"
#include "runtime/communicator/link_adapter.h"
#include "runtime/engine/executor.h"
#include "runtime/communicator/plan_cache.h"
#include "runtime/communicator/rail_balancer.h"
#include "runtime/communicator/wan_compression.h"
#include "runtime/telemetry/metrics.h"
#include "runtime/transport/transport.h"

namespace strata::runtime {

struct Communicator::Impl {
  ~Impl() {
    // A failed communicator's id stays taken: its peers' messages for the
    // abandoned operation may still sit in the transport's unexpected
    // queue, and a later communicator must never match them.
    if (ids && !failed) ids->release(comm_id);
  }

  std::shared_ptr<Transport> transport;  // shared with communicators split from this one
  std::shared_ptr<CommIdSpace> ids;      // the tag space of `transport`, shared likewise
  std::vector<int> transport_rank_of;    // communicator rank -> transport endpoint
  uint32_t comm_id = kWorldCommId;
  // Set once async_error is (or at abort): run() checks this before taking
  // the error lock, and the id is then never released (~Impl).
  std::atomic<bool> failed{false};
  uint32_t collective_sequence = 0;
  uint32_t shrink_attempts = 0;  // keeps a retried shrink's agreement apart from a failed one
  std::vector<uint32_t> sends_to, receives_from;  // point-to-point sequence per peer
  PlanCache plans;
  // Scratch + staging, one per operation of a group. Node-shared when ranks
  // on this host reach this one over shared memory, so that they read what
  // it sends from scratch in place (Transport::post_recv_view).
  std::vector<std::unique_ptr<HostBuffer>> arenas;
  bool node_shared_arenas = false;
  collectives::Network network;  // the planner's view of this communicator's ranks
  RailBalancer rails;            // keeps network.rail_weights up to date
  LinkAdapter adapter;           // keeps network.site_links' rates up to date
  ExecutionLimits limits;
  CompressionSettings compression;  // agreed by every rank at creation
  std::set<std::pair<int, std::string>> logged_choices;  // (collective, algorithm) announced at INFO
  std::unique_ptr<FlightRecorder> recorder;              // made by the Communicator's constructor
  std::unique_ptr<telemetry::CommMetrics> metrics;       // null unless telemetry is on
};

// STRATA_METRICS, STRATA_METRICS_PORT or STRATA_TRACE asks for counters.
bool telemetry_enabled();

// An operation queued by a group, or run alone.
struct PendingOperation {
  Communicator* communicator;
  Operation operation;
  uint64_t record = 0;  // its flight-recorder index, once bound
  std::string algorithm;  // with telemetry: the plan's, once bound
};

// Runs operations on one or more communicators together (group.cc).
void run_together(std::span<PendingOperation> operations);

// Holds an operation until the calling thread's outermost group_end().
void queue_in_group(PendingOperation operation);

}  // namespace strata::runtime
