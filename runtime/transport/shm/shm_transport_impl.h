// The shared-memory transport's class, shared by its source files:
//   shm_setup.cc     creation (the two allgathers), teardown
//   shm_transport.cc posting, cancel, progress, waiting, completions
//   shm_send.cc      writing cells toward peers, rendezvous offers, finishes
//   shm_receive.cc   draining inbound rings, tag matching, streams
//   shm_cma.cc       reading rendezvous messages with process_vm_readv, or
//                    in place from a peer's mapped node-shared buffer
//   shm_peer_memory.cc  mapping those buffers (pidfd_getfd)
//   shm_peers.cc     peer death and closure, finding what cancel withdraws
// All state below is guarded by one mutex; shared memory is written only
// under it too, so each ring end has one writer at a time.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/transport/shm/shm_layout.h"
#include "runtime/transport/shm/shm_segment.h"
#include "runtime/transport/shm/shm_transport.h"

namespace strata::runtime::shm {

// Messages above this size go by rendezvous (the receiver reads the send
// buffer over CMA) when the receiver can; smaller ones are copied through
// the ring. Measured on the 2-core box: see the comment in shm_send.cc.
constexpr size_t kRendezvousMinBytes = 8 << 10;
// A CMA read copies at most this much per progress() call and per claim of
// the sender's slot, so other messages, other threads and cancel() wait at
// most one chunk (about 0.1 ms: process_vm_readv moves ~9 GB/s on the 2-core
// box, where 1, 4 and 16 MiB calls measured within noise of each other).
constexpr size_t kReadChunkBytes = 1 << 20;
// How often an idle transport with pending transfers checks that its peers
// still run.
constexpr std::chrono::milliseconds kPeerCheckInterval{100};
constexpr int kIdlePollsPerClockRead = 256;

// A posted transfer that did not end inside its post_* call.
struct Operation {
  Completion* done = nullptr;
  bool is_recv = false;
  bool rendezvous = false;  // send: offered for CMA; receive: reading a rendezvous message
  bool started = false;     // streamed send: its first cell is in the ring
  int local = -1;           // the peer's index among the local ranks
  uint64_t tag = 0;
  std::byte* data = nullptr;
  size_t bytes = 0;   // the buffer's size
  size_t offset = 0;  // streamed send: bytes written; rendezvous receive: bytes read
  uint32_t slot = 0;  // rendezvous: the sender's slot and its generation
  uint64_t generation = 0;
  uint64_t remote_address = 0;  // rendezvous receive: the send buffer in the sender
  size_t message_bytes = 0;     // rendezvous receive: the message's length
  // Rendezvous receive: the send buffer mapped here (its node-shared
  // allocation), read with memcpy instead of CMA; nullptr: read over CMA.
  const std::byte* mapped = nullptr;
  uint64_t shared_id = 0;  // of that allocation
  bool view = false;       // posted by post_recv_view
};

// A view receive that completed with done->view in a peer's mapped
// allocation: the sender's slot stays claimed (kSlotReading) until
// release_view, so the sender can neither finish nor reuse its buffer.
struct HeldView {
  Completion* done = nullptr;
  int local = -1;
  uint32_t slot = 0;
  uint64_t generation = 0;
  uint64_t shared_id = 0;
};

// A message that arrived before a receive matched it.
struct Message {
  uint64_t tag = 0;
  size_t bytes = 0;
  std::vector<std::byte> data;  // eager: the payload, `arrived` bytes of it so far
  size_t arrived = 0;
  bool rendezvous = false;
  RendezvousPayload offer{};
  Operation* self_send = nullptr;  // a send to this transport itself, copied when matched
};

// Where the kData cells of the message a peer is streaming go: into a
// matched receive, into an unexpected message, or (neither) nowhere, after
// the receive was truncated or canceled.
struct Stream {
  bool active = false;
  Operation* recv = nullptr;
  Message* message = nullptr;  // owned by Peer::unexpected
  size_t received = 0;
  size_t bytes = 0;
};

struct ControlCell {
  CellKind kind;  // kFinish or kAbort
  FinishPayload finish{};
};

// One end of a ring: the cells and this side's position.
struct RingEnd {
  RingHeader* header = nullptr;
  Cell* cells = nullptr;
  uint64_t ncells = 0;  // a power of two
  uint64_t position = 0;
  // Producer: the consumer's `consumed` as last read. Consumer: as last published.
  uint64_t consumed = 0;

  Cell& cell() const { return cells[position & (ncells - 1)]; }
};

struct Peer {
  int rank = -1;
  int local = -1;
  bool self = false;
  Segment segment;                  // the peer's segment mapped here (not for self)
  SegmentHeader* header = nullptr;  // the peer's header
  ProcessWatch watch;
  WakeSender wake;   // to the peer's wake socket (for self: this transport's own)
  bool cma = false;  // large sends to this peer are rendezvous over CMA
  PeerMappings mappings;  // its node-shared allocations mapped here
  std::string gone;  // why the peer can no longer be reached; empty while it can
  bool left = false;  // gone by destroying its transport (an orderly exit), not by dying
  std::chrono::steady_clock::time_point stopped_since{};  // its process seen stopped since; zero if not
  // Sending: the ring this transport fills in the peer's segment.
  RingEnd out;
  std::deque<ControlCell> control;  // waiting for ring space; go before the backlog
  std::deque<Operation*> backlog;   // sends waiting for ring space, in posting order
  // Receiving: the ring the peer fills in this transport's segment.
  RingEnd in;
  Stream stream;
  std::vector<Operation*> posted;                   // receives in posting order
  std::deque<std::unique_ptr<Message>> unexpected;  // in arrival order
};

struct SetupRecord;  // shm_setup.cc: what each rank announces

// Cache-line aligned: two transports of one process (threads as ranks) must
// not share a line, or their uncontended mutexes would bounce between cores.
class alignas(kCacheLineBytes) ShmTransport final : public Transport {
 public:
  using Clock = std::chrono::steady_clock;

  ShmTransport(Bootstrap& bootstrap, const std::vector<int>& local_ranks, const ShmTransportOptions& options);
  ~ShmTransport() override;

  std::string_view name() const override { return "shm"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void post_send(int peer, uint64_t tag, const void* data, size_t bytes, Completion* done) override;
  void post_recv(int peer, uint64_t tag, void* data, size_t bytes, Completion* done) override;
  void post_recv_view(int peer, uint64_t tag, void* staging, size_t bytes, Completion* done) override;
  void release_view(int peer, Completion* done) override;
  std::string peer_failure(int peer) override;
  void cancel(Completion* done) override;
  bool progress() override;
  Armed arm_wait(WaitSet& set) override;
  void disarm_wait() override;

  // shm_wait_fd() and friends (shm_transport.h).
  int wait_fd() const { return wake_.fd(); }
  bool try_arm();  // shm_arm_wait()

 private:
  // shm_setup.cc
  void index_local_ranks(const std::vector<int>& local_ranks);
  void create_own_segment();
  void map_peer(Peer& peer, const SetupRecord& record);
  bool probe_cma(const Peer& peer, const SetupRecord& record) const;

  // shm_transport.cc
  Peer& peer_for(int rank, Completion* done, const char* operation);
  void post_recv_locked(Peer& peer, uint64_t tag, void* data, size_t bytes, Completion* done, bool view);
  Operation* new_operation_locked(Completion* done, bool is_recv, int local, uint64_t tag, std::byte* data,
                                  size_t bytes);
  void complete_locked(Operation* op, size_t received_bytes);
  void fail_locked(Operation* op, std::string why);
  bool progress_locked();
  bool has_work_locked();
  uint64_t& seen_by_this_thread_locked();
  void wake_local_sleepers_locked();

  // shm_send.cc
  Cell* claim_out_cell(Peer& peer);
  bool send_inline_locked(Peer& peer, uint64_t tag, const std::byte* data, size_t bytes);
  void offer_rendezvous_locked(Operation& op);
  bool flush_outbound_locked(Peer& peer);
  bool write_operation_locked(Peer& peer, Operation& op);
  void send_control_locked(Peer& peer, const ControlCell& control);
  void on_finish_locked(Peer& peer, const FinishPayload& finish);
  void release_slot_locked(uint32_t slot, uint64_t generation);
  bool revoke_locked(Operation& op);
  void send_to_self_locked(Peer& self, Operation* send);
  void deliver_self_locked(Operation* send, Operation* recv);

  // shm_receive.cc
  bool drain_inbound_locked(Peer& peer);
  void handle_cell_locked(Peer& peer, const Cell& cell);
  void on_message_locked(Peer& peer, const Cell& cell);
  void on_data_locked(Peer& peer, const std::byte* payload, size_t chunk_bytes);
  void on_abort_locked(Peer& peer);
  void on_rendezvous_locked(Peer& peer, const Cell& cell);
  void rematch_locked(Peer& peer, Operation* recv);
  void match_unexpected_locked(Peer& peer, Operation* recv, std::unique_ptr<Message> message);
  bool fits_locked(Operation* recv, size_t message_bytes);
  static Operation* take_posted(Peer& peer, uint64_t tag);
  static std::unique_ptr<Message> take_unexpected(Peer& peer, uint64_t tag);

  // shm_cma.cc
  void start_reading_locked(Peer& peer, Operation* recv, const RendezvousPayload& offer, size_t message_bytes);
  bool read_rendezvous_locked();
  bool read_chunk_locked(Operation& recv);  // true once the read ended
  const std::byte* map_offer_locked(Peer& peer, const RendezvousPayload& offer);
  void hold_view_locked(Peer& peer, Operation* recv);
  bool release_held_locked(Completion* done);  // false: `done` holds no view

  // shm_peers.cc
  void check_peers_locked();
  void check_stopped_locked(Peer& peer);
  void fail_peer_locked(Peer& peer, const std::string& reason);
  void fail_sends_to_locked(Peer& peer);
  bool withdraw_receive_locked(Completion* done);
  bool withdraw_send_locked(Completion* done);
  std::string describe(const Operation& op) const;

  const ShmTransportOptions options_;
  const int rank_;
  const int size_;
  std::vector<int> local_of_rank_;  // bootstrap rank -> index in peers_, or -1
  int self_local_ = -1;
  Segment own_;
  SegmentHeader* header_ = nullptr;  // of own_
  WakeReceiver wake_;

  std::mutex mutex_;
  std::vector<Peer> peers_;          // by local index, this transport included; sized once
  std::vector<Operation*> reading_;  // rendezvous receives whose data is being read
  std::vector<HeldView> held_views_;
  // Rendezvous sends by slot, offered and waiting for the receiver's kFinish.
  std::vector<Operation*> slot_sends_;
  std::vector<uint64_t> slot_generations_;
  std::vector<uint32_t> free_slots_;
  std::vector<std::unique_ptr<Operation>> operation_storage_;
  std::vector<Operation*> free_operations_;
  size_t pending_ = 0;  // operations not yet ended
  // Completions made so far, and as each thread last saw them in progress():
  // a thread whose transfer another thread completed must not go to sleep.
  uint64_t completions_ = 0;
  uint64_t completions_at_wake_ = 0;
  // A short list: one entry per thread that drives this transport.
  std::vector<std::pair<std::thread::id, uint64_t>> seen_completions_;
  int idle_polls_until_clock_ = 0;
  int local_sleepers_ = 0;  // this process's threads inside wait_for_activity
  Clock::time_point next_peer_check_{};
};

// Wakes `peer` if it announced that it sleeps. The fence orders the
// caller's cell store before the load of `sleepers`; the sleeper orders its
// increment before its look at the rings the same way, so either the
// sleeper sees the cell or the waker sees the sleeper (Dekker).
void wake_if_sleeping(const Peer& peer);

}  // namespace strata::runtime::shm
