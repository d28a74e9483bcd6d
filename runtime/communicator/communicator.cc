#include "runtime/communicator/communicator.h"

#include "collectives/planner.h"
#include "runtime/communicator/communicator_impl.h"
#include "runtime/config/config.h"
#include "runtime/communicator/operation_check.h"

namespace strata::runtime {

using collectives::Collective;

namespace {

Operation make(Collective collective, const void* send, void* recv, uint64_t count, DataType type,
               ReduceOp op = ReduceOp::kSum, int root = 0, Finish finish = {}) {
  Operation operation;
  operation.request.collective = collective;
  operation.request.count = count;
  operation.request.dtype = type;
  operation.request.op = op;
  operation.request.root = root;
  operation.request.finish = finish;
  operation.send = send;
  operation.recv = recv;
  return operation;
}

}  // namespace

void Communicator::run(Operation op) {
  const std::string_view name = collectives::collective_name(op.request.collective);
  if (revoked())
    fail(ErrorCode::kInvalidUsage, {rank_, -1, std::string(name)},
         "communicator was revoked: only shrink, destroy or abort remain");
  if (aborted()) fail(ErrorCode::kAborted, {rank_, -1, std::string(name)}, "communicator was aborted");
  // After a failed or timed-out transfer the peers are out of step (and a
  // stale message could match a later operation's tag): as in NCCL, the
  // communicator stays failed until it is aborted or destroyed.
  // The flag first: a healthy call takes no lock here.
  if (impl_->failed.load(std::memory_order_acquire)) {
    if (const std::optional<Error> error = async_error())
      fail(error->code(), {rank_, -1, std::string(name)},
           "the communicator failed earlier and must be aborted or destroyed: {}", error->what());
  }
  check_operation(op, rank_, size_);
  PendingOperation pending{this, std::move(op)};
  if (group_depth() > 0) {
    queue_in_group(std::move(pending));
    return;
  }
  run_together({&pending, 1});
}

void Communicator::all_reduce(const void* send, void* recv, uint64_t count, DataType type, ReduceOp op, Finish finish) {
  run(make(Collective::kAllReduce, send, recv, count, type, op, 0, finish));
}
void Communicator::all_reduce(const void* send, void* recv, uint64_t count, DataType type, ReduceOp op,
                              ErrorFeedback& feedback, Finish finish) {
  Operation operation = make(Collective::kAllReduce, send, recv, count, type, op, 0, finish);
  operation.error_feedback = &feedback;
  run(std::move(operation));
}
void Communicator::broadcast(const void* send, void* recv, uint64_t count, DataType type, int root) {
  run(make(Collective::kBroadcast, send, recv, count, type, ReduceOp::kSum, root));
}
void Communicator::reduce(const void* send, void* recv, uint64_t count, DataType type, ReduceOp op, int root,
                          Finish finish) {
  run(make(Collective::kReduce, send, recv, count, type, op, root, finish));
}
void Communicator::all_gather(const void* send, void* recv, uint64_t send_count, DataType type) {
  run(make(Collective::kAllGather, send, recv, send_count, type));
}
void Communicator::reduce_scatter(const void* send, void* recv, uint64_t recv_count, DataType type, ReduceOp op,
                                  Finish finish) {
  run(make(Collective::kReduceScatter, send, recv, recv_count, type, op, 0, finish));
}
void Communicator::all_to_all(const void* send, void* recv, uint64_t count, DataType type) {
  run(make(Collective::kAllToAll, send, recv, count, type));
}
void Communicator::gather(const void* send, void* recv, uint64_t send_count, DataType type, int root) {
  run(make(Collective::kGather, send, recv, send_count, type, ReduceOp::kSum, root));
}
void Communicator::scatter(const void* send, void* recv, uint64_t recv_count, DataType type, int root) {
  run(make(Collective::kScatter, send, recv, recv_count, type, ReduceOp::kSum, root));
}
void Communicator::send(const void* data, uint64_t count, DataType type, int peer) {
  run(make(Collective::kSend, data, nullptr, count, type, ReduceOp::kSum, peer));
}
void Communicator::recv(void* data, uint64_t count, DataType type, int peer) {
  run(make(Collective::kRecv, nullptr, data, count, type, ReduceOp::kSum, peer));
}

void Communicator::barrier() {
  uint8_t token = 0;
  all_reduce(&token, &token, 1, DataType::kUint8, ReduceOp::kMax);
}

void Communicator::abort() {
  impl_->failed = true;  // its id is never reused (communicator_impl.h)
  aborted_.store(true);
}

void Communicator::revoke() {
  revoked_.store(true);
  abort();
}

std::optional<Error> Communicator::async_error() const {
  std::lock_guard lock(error_mutex_);
  return async_error_;
}

PlanChoice Communicator::plan(const Operation& op) const {
  Operation checked = op;
  check_request(checked, rank_, size_);
  checked.request.segment_bytes = config().chunk_bytes;
  checked.request.window = static_cast<uint32_t>(config().window);
  checked.request.wan_format = wan_format_for(impl_->compression, checked.request, impl_->network);
  const std::string forced = !op.algorithm.empty()
                                 ? op.algorithm
                                 : collectives::forced_algorithm_for(config().algo, op.request.collective);
  const collectives::Plan plan = collectives::choose_algorithm(checked.request, impl_->network, forced);
  return {std::string(plan.algorithm->name()), plan.predicted_seconds, plan.reason};
}

double Communicator::timeout_s() const { return impl_->limits.timeout_s; }

std::string Communicator::compression() const { return impl_->compression.describe(); }
compression::Format Communicator::wire_format() const { return impl_->compression.format; }

float* ErrorFeedback::bind(const Communicator* comm, uint64_t count, int rank) {
  if (comm_ == nullptr) {
    comm_ = comm;
    count_ = count;
    residual_.assign(count, 0.0f);
  }
  if (comm_ != comm)
    fail(ErrorCode::kInvalidArgument, {rank, -1, "allreduce"},
         "error_feedback state is bound to another communicator: use one state per communicator and tensor");
  if (count_ != count)
    fail(ErrorCode::kInvalidArgument, {rank, -1, "allreduce"},
         "error_feedback state holds {} elements but count={}: use one state per tensor (bucket)", count_, count);
  return residual_.data();
}

}  // namespace strata::runtime
