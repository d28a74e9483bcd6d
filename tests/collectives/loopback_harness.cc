#include "tests/collectives/loopback_harness.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "runtime/engine/executor.h"
#include "runtime/transport/loopback/loopback_transport.h"

namespace strata::testing {

using collectives::Collective;
using collectives::CollectiveRequest;

namespace {

// Where rank r's input sits inside its receive buffer when running in place
// (AllGather, Gather), or its output inside its send buffer (ReduceScatter,
// Scatter); 0 when the two buffers coincide entirely.
uint64_t in_place_offset(const CollectiveRequest& request, int rank) {
  switch (request.collective) {
    case Collective::kAllGather:
    case Collective::kGather:
    case Collective::kReduceScatter:
    case Collective::kScatter: return rank * request.bytes_per_block();
    default: return 0;
  }
}

bool output_is_larger(Collective collective) {
  return collective == Collective::kAllGather || collective == Collective::kGather;
}

constexpr std::byte kGuard{0x5a};

// What the run wrote where it must not: the send buffer (out of place), or
// the receive allocation past this rank's receive region. In place, the
// region is the send data and the receive region together.
std::string damage(const CollectiveRequest& request, int rank, bool in_place, const Bytes& input, const Bytes& send,
                   const Bytes& allocation, const runtime::BoundOperation& bound) {
  if (!in_place && send != input) return fmt::format("rank {}: the send buffer was written", rank);
  const auto offset_of = [&](const std::byte* p) { return static_cast<uint64_t>(p - allocation.data()); };
  uint64_t used = offset_of(bound.buffers[collectives::kRecvBuffer]) + request.recv_buffer_bytes(rank);
  if (in_place) used = std::max<uint64_t>(used, offset_of(bound.buffers[collectives::kSendBuffer]) + input.size());
  for (uint64_t at = used; at < allocation.size(); ++at)
    if (allocation[at] != kGuard)
      return fmt::format("rank {}: byte {} of the receive allocation, past the {} it may write, was written", rank,
                         at, used);
  return {};
}

}  // namespace

RunResult run_on_loopback(const collectives::Algorithm& algorithm, const CollectiveRequest& request,
                          const std::vector<Bytes>& inputs, bool in_place, const collectives::Network& network) {
  const int n = request.nranks;
  // Both receive-reduce paths: out of place, reducing straight from the
  // sender's buffer (views); in place, from staging.
  auto transports = runtime::create_loopback_transports(n, /*views=*/!in_place);
  std::vector<collectives::RankSchedule> schedules;
  std::vector<Bytes> sends(n), recvs(n), arenas(n), feedback(n);
  std::vector<int> identity(n);
  std::vector<runtime::BoundOperation> bound(n);
  const std::atomic<bool> never{false};
  for (int rank = 0; rank < n; ++rank) {
    identity[rank] = rank;
    CollectiveRequest mine = request;
    mine.in_place = in_place;
    schedules.push_back(algorithm.build(mine, network, rank));
  }
  for (int rank = 0; rank < n; ++rank) {
    const auto& schedule = schedules[rank];
    const uint64_t recv_bytes = std::max(request.recv_buffer_bytes(rank), request.bytes_per_block() * n);
    recvs[rank].assign(recv_bytes + 64, kGuard);
    sends[rank] = inputs[rank];
    std::byte* send = sends[rank].data();
    std::byte* recv = recvs[rank].data();
    if (in_place) {
      const uint64_t offset = in_place_offset(request, rank);
      if (output_is_larger(request.collective)) {
        std::memcpy(recv + offset, inputs[rank].data(), inputs[rank].size());
        send = recv + offset;
      } else {
        recvs[rank] = inputs[rank];
        recvs[rank].resize(std::max<size_t>(recvs[rank].size(), recv_bytes) + 64, kGuard);
        send = recvs[rank].data();
        recv = send + offset;
      }
    }
    arenas[rank].assign(schedule.scratch_bytes + schedule.staging_bytes + 1, std::byte{0});
    feedback[rank].assign(schedule.feedback_bytes, std::byte{0});  // fresh error-feedback state
    bound[rank] = {.schedule = &schedule,
                   .buffers = {send, recv, arenas[rank].data(), feedback[rank].data()},
                   .staging = arenas[rank].data() + schedule.scratch_bytes,
                   .finish = request.finish,
                   .transport = transports[rank].get(),
                   .transport_rank_of = identity.data(),
                   .tag = {1, false, 0},
                   .aborted = &never,
                   .rank = rank};
  }
  runtime::execute(bound, {.timeout_s = 30, .spin_us = 0});
  RunResult result;
  for (int rank = 0; rank < n; ++rank) {
    const std::byte* recv = bound[rank].buffers[collectives::kRecvBuffer];
    result.outputs.emplace_back(recv, recv + request.recv_buffer_bytes(rank));
    if (result.damage.empty()) result.damage = damage(request, rank, in_place, inputs[rank], sends[rank], recvs[rank], bound[rank]);
  }
  return result;
}

}  // namespace strata::testing
