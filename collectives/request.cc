#include "collectives/request.h"

#include <array>

namespace strata::collectives {

std::string_view collective_name(Collective collective) {
  static constexpr std::array<std::string_view, kCollectiveCount> kNames{
      "allreduce", "broadcast", "reduce", "allgather", "reducescatter",
      "alltoall",  "gather",    "scatter", "send",     "recv"};
  return kNames[static_cast<int>(collective)];
}

uint64_t CollectiveRequest::bytes_per_block() const { return count * datatype_size(dtype); }

uint64_t CollectiveRequest::send_buffer_bytes() const {
  const uint64_t block = bytes_per_block();
  switch (collective) {
    case Collective::kReduceScatter:
    case Collective::kAllToAll:
    case Collective::kScatter: return block * nranks;
    case Collective::kRecv: return 0;
    default: return block;
  }
}

uint64_t CollectiveRequest::recv_buffer_bytes(int rank) const {
  const uint64_t block = bytes_per_block();
  switch (collective) {
    case Collective::kAllGather:
    case Collective::kAllToAll: return block * nranks;
    case Collective::kGather: return rank == root ? block * nranks : 0;
    case Collective::kReduce: return rank == root ? block : 0;
    case Collective::kSend: return 0;
    default: return block;
  }
}

}  // namespace strata::collectives
