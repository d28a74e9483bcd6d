// The torch.distributed backend "strata": a c10d process group (torch 1.x)
// or backend (torch 2.x, where ProcessGroup became a dispatcher) over one
// Strata communicator. Calls are checked and staged on the caller's thread,
// then run in call order on one worker thread per group, so every call
// returns at once with a Work that completes asynchronously.
#pragma once

#include <torch/csrc/api/include/torch/version.h>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "runtime/bootstrap/bootstrap.h"
#include "runtime/communicator/communicator.h"
#include "strata_work.h"

namespace strata::torch_backend {

#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

using Tensors = std::vector<at::Tensor>;
using WorkPtr = c10::intrusive_ptr<c10d::Work>;

class ProcessGroupStrata : public BackendBase {
 public:
  // Collective over the group's ranks: rank 0 publishes a unique id in
  // `store`, every rank joins. `timeout` bounds every wait (creation included).
  ProcessGroupStrata(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                     std::chrono::duration<float> timeout);
  ~ProcessGroupStrata() override;

  const std::string getBackendName() const override { return "strata"; }

  WorkPtr broadcast(Tensors& tensors, const c10d::BroadcastOptions& opts) override;
  WorkPtr allreduce(Tensors& tensors, const c10d::AllreduceOptions& opts) override;
  WorkPtr allreduce_coalesced(Tensors& tensors, const c10d::AllreduceCoalescedOptions& opts) override;
  WorkPtr reduce(Tensors& tensors, const c10d::ReduceOptions& opts) override;
  WorkPtr allgather(std::vector<Tensors>& outputs, Tensors& inputs, const c10d::AllgatherOptions& opts) override;
  WorkPtr _allgather_base(at::Tensor& output, at::Tensor& input, const c10d::AllgatherOptions& opts) override;
  WorkPtr allgather_coalesced(std::vector<Tensors>& outputs, Tensors& inputs,
                              const c10d::AllgatherOptions& opts) override;
  WorkPtr gather(std::vector<Tensors>& outputs, Tensors& inputs, const c10d::GatherOptions& opts) override;
  WorkPtr scatter(Tensors& outputs, std::vector<Tensors>& inputs, const c10d::ScatterOptions& opts) override;
  WorkPtr reduce_scatter(Tensors& outputs, std::vector<Tensors>& inputs,
                         const c10d::ReduceScatterOptions& opts) override;
  WorkPtr _reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                               const c10d::ReduceScatterOptions& opts) override;
  WorkPtr alltoall_base(at::Tensor& output, at::Tensor& input, std::vector<int64_t>& output_splits,
                        std::vector<int64_t>& input_splits, const c10d::AllToAllOptions& opts) override;
  WorkPtr alltoall(Tensors& outputs, Tensors& inputs, const c10d::AllToAllOptions& opts) override;
  WorkPtr send(Tensors& tensors, int dst, int tag) override;
  WorkPtr recv(Tensors& tensors, int src, int tag) override;
  WorkPtr recvAnysource(Tensors& tensors, int tag) override;
  WorkPtr barrier(const c10d::BarrierOptions& opts) override;
  void monitoredBarrier(const c10d::BarrierOptions& opts, bool wait_all_ranks) override;

  runtime::Communicator& communicator() { return *comm_; }

 private:
  using Body = std::function<void(runtime::Communicator&)>;
  struct Task {
    c10::intrusive_ptr<StrataWork> work;
    Body body;
  };

  // Queues `body` for the worker; the Work completes when it has run.
  WorkPtr enqueue(c10d::OpType type, const char* title, Tensors outputs, Body body);
  void run_worker();
  ErrorContext context(const char* operation) const { return {getRank(), -1, operation}; }
  // Uneven all-to-all as one group of sends and receives.
  static void exchange(runtime::Communicator& comm, const std::vector<const std::byte*>& send_parts,
                       const std::vector<uint64_t>& send_bytes, const std::vector<std::byte*>& recv_parts,
                       const std::vector<uint64_t>& recv_bytes);

  std::unique_ptr<runtime::Bootstrap> bootstrap_;
  std::shared_ptr<runtime::Communicator> comm_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace strata::torch_backend
