// The UCX transport's control channel (ucx_control.h): goodbyes at orderly
// teardown, failure notices, and liveness pings with their thread.
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "runtime/transport/ucx/ucx_transport_impl.h"

namespace strata::runtime {
namespace {

// How often the liveness thread looks: often enough that a stopped peer is
// failed within a second of STRATA_PEER_TIMEOUT, rarely enough to cost nothing.
constexpr auto kLivenessTick = std::chrono::milliseconds(100);

std::chrono::duration<double> ping_interval(double peer_timeout_s) {
  return std::chrono::duration<double>(std::clamp(peer_timeout_s / 5, 0.05, 1.0));
}

}  // namespace

void UcxTransport::post_control_receive_locked() {
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  param.cb.recv = on_control_received;
  param.user_data = this;
  control_arrived_ = false;
  ucs_status_ptr_t request = ucp_tag_recv_nbx(worker_.get(), &control_buffer_, sizeof(control_buffer_),
                                              control_tag(0), kControlTagMask, &param);
  if (UCS_PTR_IS_ERR(request)) {
    log(LogLevel::kWarn, "ucx: rank {}: cannot post the control receive ({}): peers' goodbyes and failure notices "
        "will not be seen", rank_, ucs_status_string(UCS_PTR_STATUS(request)));
    control_request_ = nullptr;
    return;
  }
  control_request_ = request;
}

void UcxTransport::on_control_received(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                                       void* user_data) {
  auto* self = static_cast<UcxTransport*>(user_data);
  self->control_request_ = request;  // the callback may run before the posting call returns it
  self->control_arrived_ = true;
  self->control_status_ = status;
  self->control_length_ = info != nullptr ? info->length : 0;
  self->control_sender_tag_ = info != nullptr ? info->sender_tag : 0;
}

// Handles every control message that has arrived, reposting the receive
// after each (a repost may complete at once with a message already here).
void UcxTransport::take_control_messages_locked() {
  while (control_arrived_) {
    ucp_request_free(control_request_);
    control_request_ = nullptr;
    control_arrived_ = false;
    const ucs_status_t status = control_status_;
    if (status == UCS_ERR_CANCELED) return;
    if (status != UCS_OK) {
      log(LogLevel::kWarn, "ucx: rank {}: a control message from tag {:#x} was dropped: {}", rank_,
          control_sender_tag_, ucs_status_string(status));
    } else {
      const int sender = control_sender(control_sender_tag_);
      auto message = parse_control_message(
          std::as_bytes(std::span(&control_buffer_, 1)).first(std::min(control_length_, sizeof(control_buffer_))),
          size());
      if (message && sender < size() && sender != rank_) {
        handle_control_message_locked(sender, *message);
      } else {
        log(LogLevel::kWarn, "ucx: rank {}: ignored a malformed control message ({} bytes, tag {:#x})", rank_,
            control_length_, control_sender_tag_);
      }
    }
    if (!control_closing_) post_control_receive_locked();
  }
}

void UcxTransport::handle_control_message_locked(int sender, const ControlMessage& message) {
  Peer& from = peers_[sender];
  from.heard_from = true;
  from.heard = Clock::now();
  switch (message.kind) {
    case ControlKind::kGoodbye:
      from.departed = true;
      log(LogLevel::kTrace, "ucx: rank {}: peer {} said goodbye", rank_, sender);
      break;
    case ControlKind::kFailed: {
      Peer& subject = peers_[message.subject];
      if (message.subject == rank_) {
        log(LogLevel::kWarn, "ucx: rank {}: peer {} reports this rank gone: {}", rank_, sender, message.reason());
      } else if (subject.failure.empty() && !subject.departed) {
        subject.failure = fmt::format("rank {} reports it gone: {}", sender, message.reason());
        log(LogLevel::kWarn, "ucx: rank {}: peer {}: {}", rank_, message.subject, subject.failure);
        mark_failed_locked(message.subject, false);
      }
      break;
    }
    case ControlKind::kPing:
      send_control_locked(sender, make_control_message(ControlKind::kPong, rank_), 0);
      break;
    case ControlKind::kPong: break;  // heard, above
    case ControlKind::kReset:
      // Its endpoints' errors follow; they are not a death, and not to be announced.
      if (from.failure.empty()) {
        from.failure = "it closed its connections to this rank to abandon a send (its operation failed or was aborted)";
        mark_failed_locked(sender, false);
      }
      break;
  }
}

void UcxTransport::send_control_locked(int peer, const ControlMessage& message, int lane) {
  if (!connect_locked(peer)) return;
  const std::vector<ucp_ep_h> endpoints = peers_[peer].endpoints;
  for (size_t index = 0; index < endpoints.size(); ++index) {
    if (lane >= 0 && static_cast<size_t>(lane) != index) continue;
    ControlSend& send = control_sends_.emplace_back();
    send.message = message;
    ucp_request_param_t param{};  // no callback: reaped by polling its status
    ucs_status_ptr_t request =
        ucp_tag_send_nbx(endpoints[index], &send.message, sizeof(send.message), control_tag(rank_), &param);
    if (UCS_PTR_IS_PTR(request)) {
      send.request = request;
    } else {
      control_sends_.pop_back();  // sent already, or failed (the endpoint's error says why)
    }
  }
}

void UcxTransport::reap_control_sends_locked() {
  std::erase_if(control_sends_, [](ControlSend& send) {
    if (ucp_request_check_status(send.request) == UCS_INPROGRESS) return false;
    ucp_request_free(send.request);
    return true;
  });
}

// To every peer that may hold endpoints to this rank (it has some to them,
// or heard from them) and that nothing is pending with: a peer with
// transfers still pending was abandoned, and for it this exit is a failure.
void UcxTransport::say_goodbye_locked() {
  std::vector<bool> involved(peers_.size(), false);
  for (const auto& entry : operations_) involved[entry.second->peer] = true;
  const ControlMessage goodbye = make_control_message(ControlKind::kGoodbye, rank_);
  for (Peer& peer : peers_) {
    if (peer.rank == rank_ || involved[peer.rank] || !peer.failure.empty() || peer.departed) continue;
    if (peer.endpoints.empty() && !peer.heard_from) continue;
    send_control_locked(peer.rank, goodbye, -1);  // on every lane: each must end after its goodbye
  }
}

void UcxTransport::report_failure(int rank, const std::string& why) {
  std::lock_guard lock(mutex_);
  if (rank < 0 || rank >= size() || rank == rank_) return;
  Peer& peer = peers_[rank];
  if (!peer.failure.empty() || peer.departed) return;  // known here already (and announced if found here)
  peer.failure = why;
  mark_failed_locked(rank, true);
  handle_peer_failures_locked();
}

// Every rank that might wait on `rank`, directly or through others, learns
// of its failure within one message's time instead of its own timeout.
void UcxTransport::announce_failure_locked(int rank) {
  const ControlMessage notice = make_control_message(ControlKind::kFailed, rank, peers_[rank].failure);
  for (Peer& peer : peers_) {
    if (peer.rank == rank_ || peer.rank == rank || !peer.failure.empty() || peer.departed) continue;
    send_control_locked(peer.rank, notice, 0);
  }
}

// Peers this rank waits on (a transfer with them is pending) and has not
// heard from lately get a ping; one silent for peer_timeout_s is failed.
// Only the liveness thread calls it, every kLivenessTick: the callers'
// progress loops pay nothing for liveness.
void UcxTransport::check_liveness_locked() {
  const auto now = Clock::now();
  std::vector<bool> involved(peers_.size(), false);
  for (const auto& entry : operations_) involved[entry.second->peer] = true;
  const auto interval = ping_interval(options_.peer_timeout_s);
  const auto limit = std::chrono::duration<double>(options_.peer_timeout_s);
  for (Peer& peer : peers_) {
    const bool waited_on = involved[peer.rank] && peer.rank != rank_ && peer.failure.empty() && !peer.departed;
    if (waited_on && !peer.waited_on) peer.waited_since = now;
    peer.waited_on = waited_on;
    if (!waited_on) continue;
    const auto silent = now - std::max(peer.heard, peer.waited_since);
    if (silent > limit) {
      peer.failure = fmt::format(
          "no sign of life for {:.1f} s (STRATA_PEER_TIMEOUT={:g} s): its process is stopped or hung, or the "
          "network path to it is down",
          std::chrono::duration<double>(silent).count(), options_.peer_timeout_s);
      log(LogLevel::kWarn, "ucx: rank {}: peer {}: {}", rank_, peer.rank, peer.failure);
      mark_failed_locked(peer.rank, true);
    } else if (silent > interval && now - peer.pinged > interval) {
      peer.pinged = now;
      send_control_locked(peer.rank, make_control_message(ControlKind::kPing, rank_), 0);
    }
  }
}

void UcxTransport::run_liveness_thread() {
  std::unique_lock lock(mutex_);
  while (!liveness_stopping_) {
    liveness_wake_.wait_for(lock, kLivenessTick);
    if (liveness_stopping_) break;
    progress_locked();
    check_liveness_locked();
    handle_peer_failures_locked();
    // This thread may have taken the worker's event a sleeping caller armed
    // for; wake it to look and re-arm.
    if (waiters_ > 0) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t written = ::write(wake_fd_, &one, sizeof(one));
    }
  }
}

void UcxTransport::stop_liveness_thread() {
  if (!liveness_thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    liveness_stopping_ = true;
  }
  liveness_wake_.notify_all();
  liveness_thread_.join();
}

}  // namespace strata::runtime
