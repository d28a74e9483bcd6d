#include "process_group_strata.h"

#include <cstring>

#include "runtime/bootstrap/tcp_bootstrap.h"
#include "runtime/config/config.h"
#include "tensor_args.h"

namespace strata::torch_backend {
namespace {

// Each group gets its own prefixed store from torch, so one key suffices.
constexpr const char* kUniqueIdKey = "strata/unique_id";

runtime::UniqueId agree_on_unique_id(c10d::Store& store, int rank, double timeout_s) {
  runtime::UniqueId id{};
  if (rank == 0) {
    id = runtime::create_unique_id(runtime::config().socket_ifname, timeout_s, runtime::join_policy());
    store.set(kUniqueIdKey, std::vector<uint8_t>(id.bytes.begin(), id.bytes.end()));
    return id;
  }
  const std::vector<uint8_t> bytes = store.get(kUniqueIdKey);  // waits up to the store's timeout
  if (bytes.size() != id.bytes.size())
    fail(ErrorCode::kInvalidArgument, {rank, -1, "init_process_group"}, "the store's {} holds {} bytes, not {}",
         kUniqueIdKey, bytes.size(), id.bytes.size());
  std::memcpy(id.bytes.data(), bytes.data(), bytes.size());
  return id;
}

}  // namespace

ProcessGroupStrata::ProcessGroupStrata(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                       std::chrono::duration<float> timeout)
    : BackendBase(rank, size) {
  const ErrorContext where{rank, -1, "init_process_group"};
  if (!store) fail(ErrorCode::kInvalidArgument, where, "store is null");
  if (size < 1 || rank < 0 || rank >= size)
    fail(ErrorCode::kInvalidArgument, where, "rank {} of world size {} is out of range", rank, size);
  const double timeout_s = timeout.count() > 0 ? timeout.count() : runtime::config().timeout_s;
  const runtime::UniqueId id = agree_on_unique_id(*store, rank, timeout_s);
  bootstrap_ = runtime::connect_tcp_bootstrap(id, rank, size, timeout_s, runtime::join_policy());
  comm_ = runtime::Communicator::create(*bootstrap_, {"torch", timeout_s});
  worker_ = std::thread([this] { run_worker(); });
}

ProcessGroupStrata::~ProcessGroupStrata() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;  // the worker drains what is queued, then ends
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

WorkPtr ProcessGroupStrata::enqueue(c10d::OpType type, const char* title, Tensors outputs, Body body) {
  auto work = c10::make_intrusive<StrataWork>(getRank(), type, title, std::move(outputs));
  {
    std::lock_guard lock(mutex_);
    if (stopping_) fail(ErrorCode::kInvalidUsage, context(title), "the process group is being destroyed");
    queue_.push_back({work, std::move(body)});
  }
  wake_.notify_one();
  return work;
}

void ProcessGroupStrata::run_worker() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task.body(*comm_);
      task.work->complete(nullptr);
    } catch (...) {
      task.work->complete(std::current_exception());
    }
  }
}

WorkPtr ProcessGroupStrata::send(Tensors& tensors, int dst, int /*tag*/) {
  auto staged = std::make_shared<Staged>(single(tensors, "tensors", context("send")), false, context("send"));
  return enqueue(c10d::OpType::SEND, "strata:send", tensors, [staged, dst](runtime::Communicator& comm) {
    comm.send(staged->data(), staged->bytes(), DataType::kUint8, dst);
  });
}

WorkPtr ProcessGroupStrata::recv(Tensors& tensors, int src, int /*tag*/) {
  auto staged = std::make_shared<Staged>(single(tensors, "tensors", context("recv")), false, context("recv"));
  return enqueue(c10d::OpType::RECV, "strata:recv", tensors, [staged, src](runtime::Communicator& comm) {
    comm.recv(staged->data(), staged->bytes(), DataType::kUint8, src);
    staged->finish();
  });
}

WorkPtr ProcessGroupStrata::recvAnysource(Tensors& /*tensors*/, int /*tag*/) {
  fail(ErrorCode::kInvalidUsage, context("recv"),
       "receiving from any source is not supported by strata: name the source rank");
}

WorkPtr ProcessGroupStrata::barrier(const c10d::BarrierOptions& /*opts*/) {
  return enqueue(c10d::OpType::BARRIER, "strata:barrier", {}, [](runtime::Communicator& comm) { comm.barrier(); });
}

// A barrier that fails within opts.timeout (default: the group's) instead of
// waiting on a missing rank; the error names this rank and the time waited.
void ProcessGroupStrata::monitoredBarrier(const c10d::BarrierOptions& opts, bool /*wait_all_ranks*/) {
  const auto limit = opts.timeout.count() > 0
                         ? opts.timeout
                         : std::chrono::milliseconds(static_cast<int64_t>(comm_->timeout_s() * 1000));
  WorkPtr work = barrier(opts);
  try {
    work->wait(limit);
  } catch (const std::exception& error) {
    fail(ErrorCode::kTimeout, context("monitored_barrier"), "not every rank reached the barrier within {} ms ({})",
         limit.count(), error.what());
  }
}

void ProcessGroupStrata::exchange(runtime::Communicator& comm, const std::vector<const std::byte*>& send_parts,
                                  const std::vector<uint64_t>& send_bytes, const std::vector<std::byte*>& recv_parts,
                                  const std::vector<uint64_t>& recv_bytes) {
  const int rank = comm.rank();
  if (recv_bytes[rank] != send_bytes[rank])
    fail(ErrorCode::kInvalidArgument, {rank, -1, "alltoall"}, "this rank sends itself {} bytes but expects {}",
         send_bytes[rank], recv_bytes[rank]);
  if (send_bytes[rank] > 0) std::memcpy(recv_parts[rank], send_parts[rank], send_bytes[rank]);
  runtime::group_start();
  try {
    for (int peer = 0; peer < comm.size(); ++peer) {
      if (peer == rank) continue;
      if (send_bytes[peer] > 0) comm.send(send_parts[peer], send_bytes[peer], DataType::kUint8, peer);
      if (recv_bytes[peer] > 0) comm.recv(recv_parts[peer], recv_bytes[peer], DataType::kUint8, peer);
    }
  } catch (...) {
    runtime::group_end_simulated();  // drop what was queued
    throw;
  }
  runtime::group_end();
}

}  // namespace strata::torch_backend
