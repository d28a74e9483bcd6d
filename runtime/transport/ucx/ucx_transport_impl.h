// The UCX transport's class, shared by its two source files:
// ucx_transport.cc (posting, completion, progress, waiting),
// ucx_endpoints.cc (setup, endpoints, peer failure, teardown) and
// ucx_control.cc (goodbyes, failure notices, liveness).
#pragma once

#include <ucp/api/ucp.h>

#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "runtime/transport/ucx/ucx_control.h"
#include "runtime/transport/ucx/ucx_transport.h"
#include "runtime/transport/ucx/ucx_worker.h"

namespace strata::runtime {

class UcxTransport final : public Transport {
 public:
  using Clock = std::chrono::steady_clock;

  UcxTransport(Bootstrap& bootstrap, const UcxTransportOptions& options);
  ~UcxTransport() override;

  std::string_view name() const override { return "ucx"; }
  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(peers_.size()); }

  void post_send(int peer, uint64_t tag, const void* data, size_t bytes, Completion* done) override;
  void post_recv(int peer, uint64_t tag, void* data, size_t bytes, Completion* done) override;
  int connect(int peer, int connections) override;
  void set_lanes(int peer, int lanes) override;
  void post_send_via(int peer, int connection, uint64_t tag, const void* data, size_t bytes,
                     Completion* done) override;
  std::string peer_failure(int peer) override;
  void report_failure(int peer, const std::string& why) override;
  int lane_of(int peer, uint64_t tag) override;
  void cancel(Completion* done) override;
  bool progress() override;
  Armed arm_wait(WaitSet& set) override;
  void disarm_wait() override;

  std::string describe_path(int peer);

 private:
  // One posted transfer that UCX has not finished; user_data of its request.
  struct Operation {
    UcxTransport* owner = nullptr;  // null once abandoned at teardown: completion then only frees
    Completion* done = nullptr;     // null once orphaned (cancel gave up): completion only frees the request
    int peer = -1;
    bool is_recv = false;
    uint64_t tag = 0;
    size_t bytes = 0;
    void* request = nullptr;  // set once the posting call returned it
    bool posting = true;      // inside ucp_tag_*_nbx: a completion there is recorded, not applied
    bool completed_while_posting = false;
    ucs_status_t status = UCS_INPROGRESS;
    size_t received_bytes = 0;
  };

  struct Peer {
    UcxTransport* owner = nullptr;
    int rank = -1;
    std::vector<std::byte> address;
    ProcessIdentity process;
    bool watchable = false;  // its process is visible here, so we check it is alive
    int lane_count = 1;        // endpoints post_send spreads over (the first ones)
    int endpoint_count = 1;    // endpoints this peer gets once connected: lanes, then post_send_via's extra ones
    std::vector<ucp_ep_h> endpoints;  // empty until connected and once closed
    std::string failure;  // non-empty once the peer is judged gone (it is then done)
    bool departed = false;     // it said goodbye: its endpoints closing is not a failure
    bool heard_from = false;   // a message from it arrived: it may have endpoints to this rank
    bool used = false;         // the data path sent to it or received from it (not only notices)
    // Liveness (STRATA_PEER_TIMEOUT): its last sign of life, since when
    // this rank waits on it, and when it was last pinged.
    Clock::time_point heard{};
    Clock::time_point waited_since{};
    Clock::time_point pinged{};
    bool waited_on = false;
  };

  // Something that may mean a peer is gone (an endpoint error, its process
  // missing), judged only after the messages already here are read: its
  // goodbye may be among them.
  struct Suspicion {
    int rank = -1;
    ucp_ep_h endpoint = nullptr;  // the endpoint that reported an error, if any
    std::string reason;
  };

  // A control message on its way; the list keeps its buffer in place.
  struct ControlSend {
    ControlMessage message;
    void* request = nullptr;
  };

  // ucx_transport.cc
  // Applies what a ucp_tag_*_nbx call returned; the operation if still pending, else null.
  Operation* post_locked(Operation* operation, ucs_status_ptr_t result, size_t immediate_bytes);
  Operation* add_operation_locked(Completion* done, int peer, bool is_recv, uint64_t tag, size_t bytes);
  void complete_locked(Operation* operation, ucs_status_t status, size_t received_bytes);
  std::string describe_failure_locked(const Operation& operation, ucs_status_t status) const;
  bool progress_locked();
  void wait_until_done_locked(std::unique_lock<std::mutex>& lock, Completion* done, Clock::time_point deadline);
  static void on_done(void* request, ucs_status_t status, size_t received_bytes, void* user_data);
  static void on_send_done(void* request, ucs_status_t status, void* user_data);
  static void on_recv_done(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info, void* user_data);

  // ucx_endpoints.cc
  // Connects every lane to `peer` if not yet done; false if it cannot be reached.
  bool connect_locked(int peer);
  // The endpoint that a message with `tag` takes to `peer`; null if unreachable.
  ucp_ep_h endpoint_locked(int peer, uint64_t tag);
  // The endpoint of connection `connection` (modulo their count); null if unreachable.
  ucp_ep_h endpoint_via_locked(int peer, int connection);
  void send_locked(int peer, int connection, uint64_t tag, const void* data, size_t bytes, Completion* done);
  ucp_ep_h create_endpoint_locked(Peer& peer, int lane);
  void close_endpoints_locked(Peer& peer, bool force);
  void handle_peer_failures_locked();
  void cancel_receives_from_locked(int peer);
  void reap_close_requests_locked();
  void check_peer_processes_locked();
  void shut_down_locked(std::unique_lock<std::mutex>& lock);
  static void on_endpoint_error(void* arg, ucp_ep_h endpoint, ucs_status_t status);
  void suspect_locked(int peer, ucp_ep_h endpoint, std::string reason);
  void judge_suspicions_locked();
  // Marks `peer` gone; `announce`: tell every other rank (this rank found it).
  void mark_failed_locked(int peer, bool announce);
  void close_endpoint_locked(Peer& peer, ucp_ep_h endpoint);

  // ucx_control.cc
  void post_control_receive_locked();
  void take_control_messages_locked();
  void handle_control_message_locked(int sender, const ControlMessage& message);
  // Sends `message` to `peer` on lane `lane`, or on every lane if lane < 0.
  void send_control_locked(int peer, const ControlMessage& message, int lane);
  void reap_control_sends_locked();
  void say_goodbye_locked();
  void announce_failure_locked(int peer);
  void check_liveness_locked();
  void run_liveness_thread();
  void stop_liveness_thread();
  static void on_control_received(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                                  void* user_data);

  const UcxTransportOptions options_;
  const int rank_;
  std::mutex mutex_;  // every UCX call and all state below
  std::vector<Peer> peers_;  // sized once: Peer addresses are error-handler arguments
  std::unordered_map<Operation*, std::unique_ptr<Operation>> operations_;
  std::unordered_map<Completion*, Operation*> by_completion_;
  std::vector<int> failed_peers_;        // judged gone, not yet acted on
  std::vector<int> to_announce_;         // of those, the ones this rank found itself
  std::vector<Suspicion> suspicions_;    // not yet judged
  bool watches_processes_ = false;       // some peer is watchable
  Clock::time_point next_process_check_{};
  std::vector<void*> close_requests_;    // ucp_ep_close_nbx requests still running
  uint64_t completions_ = 0;  // completions applied so far
  // completions_ as each thread last saw it in progress(): a thread whose
  // transfers another thread completed must not go to sleep.
  std::unordered_map<std::thread::id, uint64_t> seen_completions_;
  // Threads in wait_for_activity. A completion made by another thread
  // (its progress() consumed the worker's event, or its cancel()) would not
  // wake them through the worker's fd, so each completion pokes this eventfd.
  int waiters_ = 0;
  int wake_fd_ = -1;
  // The control channel: one receive for every sender, reposted after each message.
  ControlMessage control_buffer_;
  void* control_request_ = nullptr;     // pending, or done and not yet taken
  bool control_arrived_ = false;
  ucs_status_t control_status_ = UCS_OK;
  size_t control_length_ = 0;
  uint64_t control_sender_tag_ = 0;
  bool control_closing_ = false;        // teardown: do not repost
  std::list<ControlSend> control_sends_;
  // Liveness: a thread that progresses the worker now and then, so that
  // this rank answers pings while its caller computes, and that notices
  // peers which stopped answering (STRATA_PEER_TIMEOUT).
  std::condition_variable liveness_wake_;
  bool liveness_stopping_ = false;
  std::thread liveness_thread_;
  // Last member, so it is destroyed first: callbacks that UCX still runs while
  // the worker goes away find everything above intact.
  UcxWorker worker_;
};

}  // namespace strata::runtime
