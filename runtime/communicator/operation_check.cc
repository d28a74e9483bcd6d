#include "runtime/communicator/operation_check.h"

#include <limits>

namespace strata::runtime {
namespace {

using collectives::Collective;

bool has_root(Collective collective) {
  return collective == Collective::kBroadcast || collective == Collective::kReduce ||
         collective == Collective::kGather || collective == Collective::kScatter;
}

bool is_point_to_point(Collective collective) {
  return collective == Collective::kSend || collective == Collective::kRecv;
}

// NCCL's definition of in-place for each collective.
bool in_place(const Operation& op, int rank) {
  const auto& request = op.request;
  const auto* send = static_cast<const std::byte*>(op.send);
  const auto* recv = static_cast<const std::byte*>(op.recv);
  const uint64_t block = request.bytes_per_block();
  switch (request.collective) {
    case Collective::kAllGather: return send == recv + rank * block;
    case Collective::kReduceScatter: return recv == send + rank * block;
    case Collective::kGather: return rank == request.root && send == recv + rank * block;
    case Collective::kScatter: return rank == request.root && recv == send + rank * block;
    case Collective::kSend:
    case Collective::kRecv: return false;
    default: return send == recv;
  }
}

void check_buffers(const Operation& op, int rank) {
  const auto& request = op.request;
  const std::string_view what = collectives::collective_name(request.collective);
  // Only the root reads the send buffer of Broadcast and Scatter.
  const bool reads_send = !((request.collective == Collective::kBroadcast ||
                             request.collective == Collective::kScatter) && rank != request.root);
  if (reads_send && request.send_buffer_bytes() > 0 && op.send == nullptr)
    fail(ErrorCode::kInvalidArgument, {rank, -1, std::string(what)}, "sendbuff is null but count is {}", request.count);
  if (request.recv_buffer_bytes(rank) > 0 && op.recv == nullptr)
    fail(ErrorCode::kInvalidArgument, {rank, -1, std::string(what)}, "recvbuff is null but count is {}", request.count);
}

}  // namespace

void check_operation(Operation& op, int rank, int nranks) {
  check_request(op, rank, nranks);
  check_buffers(op, rank);
  op.request.in_place = in_place(op, rank);
}

void check_request(Operation& op, int rank, int nranks) {
  auto& request = op.request;
  request.nranks = nranks;
  const std::string what(collectives::collective_name(request.collective));
  if (static_cast<int>(request.collective) >= collectives::kCollectiveCount)
    fail(ErrorCode::kInvalidArgument, {rank, -1, "collective"}, "unknown collective {}", static_cast<int>(request.collective));
  if (static_cast<int>(request.dtype) >= kDataTypeCount)
    fail(ErrorCode::kInvalidArgument, {rank, -1, what}, "datatype {} is not a valid ncclDataType_t", static_cast<int>(request.dtype));
  if (static_cast<int>(request.op) >= kReduceOpCount)
    fail(ErrorCode::kInvalidArgument, {rank, -1, what}, "op {} is not a valid reduction", static_cast<int>(request.op));
  if (request.finish.kind == FinishKind::kDivide && request.finish.divisor == 0)
    fail(ErrorCode::kInvalidArgument, {rank, -1, what}, "average over zero ranks");
  if (has_root(request.collective) && (request.root < 0 || request.root >= nranks))
    fail(ErrorCode::kInvalidArgument, {rank, -1, what}, "root {} is outside [0, {})", request.root, nranks);
  if (is_point_to_point(request.collective) && (request.root < 0 || request.root >= nranks))
    fail(ErrorCode::kInvalidArgument, {rank, -1, what}, "peer {} is outside [0, {})", request.root, nranks);
  // The largest buffer any collective touches is count × element size × nranks.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() / 2 / datatype_size(request.dtype) / nranks;
  if (request.count > limit)
    fail(ErrorCode::kInvalidArgument, {rank, -1, what}, "count {} of {} overflows the buffer size", request.count,
         datatype_name(request.dtype));
}

}  // namespace strata::runtime
