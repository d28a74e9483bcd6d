#include "benchmarks/perf/layout.h"

namespace strata::perf {
namespace {

// Collectives whose count is per rank block: nccl-tests splits the swept
// size over the ranks for them (count = bytes / element / nranks).
bool count_is_per_block(Collective collective) {
  switch (collective) {
    case Collective::kAllGather:
    case Collective::kReduceScatter:
    case Collective::kAllToAll:
    case Collective::kGather:
    case Collective::kScatter: return true;
    default: return false;
  }
}

int ring_previous(int rank, int nranks) { return (rank + nranks - 1) % nranks; }

}  // namespace

bool collective_reduces(Collective collective) {
  return collective == Collective::kAllReduce || collective == Collective::kReduce ||
         collective == Collective::kReduceScatter;
}

bool collective_rooted(Collective collective) {
  return collective == Collective::kBroadcast || collective == Collective::kReduce ||
         collective == Collective::kGather || collective == Collective::kScatter;
}

// A ring shift that sends and receives the same buffer would race with
// itself; nccl-tests' in-place sendrecv column is not meaningful either.
bool collective_has_in_place(Collective collective) { return collective != Collective::kSend; }

std::optional<CollectiveRequest> request_for(Collective collective, uint64_t bytes, DataType type, OpChoice op,
                                             int root, int nranks) {
  CollectiveRequest request;
  request.collective = collective;
  request.dtype = type;
  request.nranks = nranks;
  request.count = bytes / datatype_size(type);
  if (count_is_per_block(collective)) request.count /= static_cast<uint64_t>(nranks);
  if (request.count == 0) return std::nullopt;
  if (collective_reduces(collective)) {
    request.op = op_choice_reduce_op(op);
    request.finish = op_choice_finish(op, type, nranks);
  }
  request.root = collective_rooted(collective) ? root : 0;
  return request;
}

uint64_t reported_bytes(const CollectiveRequest& request) {
  const uint64_t blocks = count_is_per_block(request.collective) ? static_cast<uint64_t>(request.nranks) : 1;
  return request.bytes_per_block() * blocks;
}

double bus_factor(Collective collective, int nranks) {
  const double n = nranks;
  switch (collective) {
    case Collective::kAllReduce: return 2.0 * (n - 1) / n;
    case Collective::kBroadcast:
    case Collective::kReduce:
    case Collective::kSend: return 1.0;
    default: return (n - 1) / n;
  }
}

uint64_t input_count(const CollectiveRequest& request) {
  if (request.collective == Collective::kSend) return request.count;
  return request.send_buffer_bytes() / datatype_size(request.dtype);
}

uint64_t output_count(const CollectiveRequest& request, int rank) {
  if (request.collective == Collective::kSend) return request.count;
  return request.recv_buffer_bytes(rank) / datatype_size(request.dtype);
}

Placement place(const CollectiveRequest& request, int rank, std::byte* send_buffer, std::byte* recv_buffer,
                bool in_place) {
  if (!in_place) return {send_buffer, recv_buffer};
  std::byte* const own_block = recv_buffer + static_cast<uint64_t>(rank) * request.bytes_per_block();
  switch (request.collective) {
    case Collective::kAllGather:
    case Collective::kGather: return {own_block, recv_buffer};
    case Collective::kReduceScatter:
    case Collective::kScatter: return {recv_buffer, own_block};
    default: return {recv_buffer, recv_buffer};
  }
}

std::vector<Segment> expected_segments(const CollectiveRequest& request, int rank) {
  const uint64_t block = request.count;
  const auto own = static_cast<uint64_t>(rank) * block;
  const bool is_root = rank == request.root;
  std::vector<Segment> segments;
  const auto one_per_rank = [&](uint64_t first) {
    for (int peer = 0; peer < request.nranks; ++peer)
      segments.push_back({static_cast<uint64_t>(peer) * block, peer, first, block});
  };
  switch (request.collective) {
    case Collective::kAllReduce: segments.push_back({0, kAllRanks, 0, block}); break;
    case Collective::kReduce:
      if (is_root) segments.push_back({0, kAllRanks, 0, block});
      break;
    case Collective::kReduceScatter: segments.push_back({0, kAllRanks, own, block}); break;
    case Collective::kBroadcast: segments.push_back({0, request.root, 0, block}); break;
    case Collective::kScatter: segments.push_back({0, request.root, own, block}); break;
    case Collective::kAllGather: one_per_rank(0); break;
    case Collective::kGather:
      if (is_root) one_per_rank(0);
      break;
    case Collective::kAllToAll: one_per_rank(own); break;
    case Collective::kSend: segments.push_back({0, ring_previous(rank, request.nranks), 0, block}); break;
    case Collective::kRecv: break;
  }
  return segments;
}

}  // namespace strata::perf
