// The native C++ API: a communicator is one rank's handle on a group of
// ranks. The NCCL C API, the perf harness and (later) Python sit on this.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "collectives/request.h"
#include "compression/codec.h"
#include "common/datatype.h"
#include "common/error.h"
#include "topology/topology.h"

namespace strata::runtime {

class Bootstrap;
class Transport;
class PlanCache;

struct CommOptions {
  std::string name;      // for logs
  double timeout_s = 0;  // longest wait of one operation; 0: STRATA_TIMEOUT (a split inherits its parent's)
  // Encoding of the inter-site leg (docs/compression.md): a format name;
  // empty: STRATA_COMPRESSION (a split inherits its parent's). Every rank
  // must pass the same, or creation fails naming the rank that differs.
  std::string compression;
  uint64_t compression_min_bytes = 0;  // 0: STRATA_COMPRESSION_MIN_BYTES or the parent's
  double compression_max_gbps = 0;     // 0: STRATA_COMPRESSION_MAX_GBPS or the parent's
};

class Communicator;

// Error-feedback state of compressed AllReduce: what lossy encoding of the
// inter-site leg lost on this rank, added back into the next call that
// passes the same state, so that the error does not accumulate as bias.
// The caller owns it, one per tensor (a DDP bucket); it is bound to the
// first communicator and element count it is used with, and untouched by
// calls that run exact.
class ErrorFeedback {
 public:
  void reset() { std::fill(residual_.begin(), residual_.end(), 0.0f); }
  uint64_t count() const { return count_; }
  std::span<const float> residual() const { return residual_; }
  // Internal: the residuals for a call of `count` floats on `comm`, rank `rank`.
  float* bind(const Communicator* comm, uint64_t count, int rank);

 private:
  std::vector<float> residual_;
  uint64_t count_ = 0;
  const Communicator* comm_ = nullptr;
};

// One collective or point-to-point call with its buffers.
struct Operation {
  collectives::CollectiveRequest request;  // request.nranks is filled in by the communicator
  const void* send = nullptr;
  void* recv = nullptr;
  std::string algorithm;  // force this algorithm; empty: STRATA_ALGO, else the planner
  ErrorFeedback* error_feedback = nullptr;  // compressed AllReduce only; may be null
};

// What the planner chose for an operation, for --explain and STRATA_DEBUG.
struct PlanChoice {
  std::string algorithm;
  double predicted_seconds = 0;
  std::string reason;  // why (forced, or the ranking of candidates)
};

class Communicator {
 public:
  // Rank bootstrap.rank() of bootstrap.size() ranks, over a new UCX transport.
  static std::shared_ptr<Communicator> create(Bootstrap& bootstrap, const CommOptions& options = {});
  // All ranks of a communicator inside this process (ncclCommInitAll),
  // joined by the in-process transport.
  static std::vector<std::shared_ptr<Communicator>> create_local(int nranks, const CommOptions& options = {});

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& name() const { return name_; }
  const topology::Topology& topology() const { return topology_; }

  // Validates `op` (throwing Error(kInvalidArgument) that names the argument
  // and this rank), then runs it to completion, or queues it until
  // group_end() when a group is open on this thread.
  void run(Operation op);

  void all_reduce(const void* send, void* recv, uint64_t count, DataType type, ReduceOp op, Finish finish = {});
  // The same, carrying the loss of a compressed inter-site leg in `feedback`.
  void all_reduce(const void* send, void* recv, uint64_t count, DataType type, ReduceOp op, ErrorFeedback& feedback,
                  Finish finish = {});
  void broadcast(const void* send, void* recv, uint64_t count, DataType type, int root);
  void reduce(const void* send, void* recv, uint64_t count, DataType type, ReduceOp op, int root,
              Finish finish = {});
  void all_gather(const void* send, void* recv, uint64_t send_count, DataType type);
  void reduce_scatter(const void* send, void* recv, uint64_t recv_count, DataType type, ReduceOp op,
                      Finish finish = {});
  void all_to_all(const void* send, void* recv, uint64_t count, DataType type);
  void gather(const void* send, void* recv, uint64_t send_count, DataType type, int root);
  void scatter(const void* send, void* recv, uint64_t recv_count, DataType type, int root);
  void send(const void* data, uint64_t count, DataType type, int peer);
  void recv(void* data, uint64_t count, DataType type, int peer);
  void barrier();

  // Collective over this communicator: ranks with the same color form a new
  // communicator, ordered by (key, rank). A negative color returns nullptr.
  std::shared_ptr<Communicator> split(int color, int key, const CommOptions& options = {});

  // The survivors' communicator (ncclCommShrink): every rank not in
  // `excluded` calls it with the same list, the excluded ranks do not (they
  // may be dead). Exchanges only with the survivors, so it works on a failed,
  // revoked or aborted communicator; ranks keep their order. Throws
  // kInvalidArgument for a bad list (naming this rank), and kTimeout naming
  // the survivor that did not join.
  std::shared_ptr<Communicator> shrink(std::span<const int> excluded, const CommOptions& options = {});

  // Makes every pending and later call on this communicator fail with
  // Error(kAborted); wakes waiters within milliseconds.
  void abort();
  bool aborted() const { return aborted_.load(); }
  // ncclCommRevoke: abort() whose later calls fail with kInvalidUsage saying
  // so; shrink() and destruction remain.
  void revoke();
  bool revoked() const { return revoked_.load(); }

  // The first error an operation on this communicator hit, if any.
  std::optional<Error> async_error() const;

  // What the planner would choose for `op`; its buffers may be null.
  PlanChoice plan(const Operation& op) const;
  // The longest wait of one operation, in seconds (CommOptions::timeout_s).
  double timeout_s() const;
  // The compression settings in force, e.g. "int8 (calls from 1048576 bytes, links under 25 Gbit/s)" or "none".
  std::string compression() const;
  strata::compression::Format wire_format() const;  // the format alone

  // Internal: used by the group executor.
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  Communicator(int rank, int size, const CommOptions& options, topology::Topology topology,
               std::unique_ptr<Impl> impl);
  // A communicator of `members` (ranks of this one) over this one's
  // transport, with tag space `comm_id`; this rank must be a member.
  std::shared_ptr<Communicator> sub_communicator(const std::vector<int>& members, uint32_t comm_id,
                                                 const CommOptions& options) const;
  // `child` once its ranks are found to agree on compression settings.
  static std::shared_ptr<Communicator> agreed(std::shared_ptr<Communicator> child);

  int rank_;
  int size_;
  std::string name_;
  topology::Topology topology_;
  std::atomic<bool> aborted_{false};
  std::atomic<bool> revoked_{false};
  mutable std::mutex error_mutex_;
  std::optional<Error> async_error_;
  std::unique_ptr<Impl> impl_;

  friend class GroupRunner;
};

// ncclGroupStart/ncclGroupEnd for the calling thread. Groups nest; the
// outermost group_end runs every queued operation together, so that
// send/recv pairs and collectives on several communicators never deadlock.
void group_start();
void group_end();
// Ends the group like group_end but runs nothing: the outermost one drops
// the queued operations and returns the planner's predicted seconds for
// them (ncclGroupSimulateEnd).
double group_end_simulated();
int group_depth();

}  // namespace strata::runtime
