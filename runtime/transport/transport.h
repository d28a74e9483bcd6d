// The narrow contract every data-plane transport implements: tagged,
// asynchronous send/recv between the endpoints of one transport "world",
// completion flags, progress and a blocking wait that does not spin.
// Algorithms never see this; the executor drives it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <poll.h>
#include <time.h>

namespace strata::runtime {

// Set by the transport when a posted transfer ends. Owned by the caller, who
// must keep it alive until it leaves kPending or cancel() returned.
struct Completion {
  enum State : uint8_t { kPending = 0, kDone = 1, kFailed = 2 };
  std::atomic<uint8_t> state{kPending};
  uint64_t received_bytes = 0;  // receives: the message's length
  const std::byte* view = nullptr;  // post_recv_view: where the message can be read
  std::string error;            // kFailed: what went wrong, for the error message
};

// What a thread sleeps on when it waits for several transports at once:
// each armed transport adds the descriptors that turn readable when it may
// have something to progress, and lowers `timeout` to when it must next look
// at its peers. sleep_on() polls them all.
struct WaitSet {
  std::vector<pollfd> fds;
  std::chrono::microseconds timeout{0};
};
inline void sleep_on(const WaitSet& set) {
  const auto timeout = std::max(set.timeout, std::chrono::microseconds(0));
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec limit{static_cast<time_t>(seconds.count()),
                       static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout - seconds).count())};
  // const_cast: ppoll writes only revents, which nobody reads. EINTR is just an early return.
  ::ppoll(const_cast<pollfd*>(set.fds.data()), set.fds.size(), &limit, nullptr);
}

class Transport {
 public:
  virtual ~Transport() = default;

  virtual std::string_view name() const = 0;
  virtual int rank() const = 0;  // this endpoint's index in the transport's world
  virtual int size() const = 0;

  // A receive matches a send from `peer` with the same tag; messages with
  // equal (peer, tag) match in posting order. A receive of a message longer
  // than `bytes` fails. Either may complete before the call returns.
  virtual void post_send(int peer, uint64_t tag, const void* data, size_t bytes, Completion* done) = 0;
  virtual void post_recv(int peer, uint64_t tag, void* data, size_t bytes, Completion* done) = 0;

  // A receive whose data the caller only reads (to reduce it): like
  // post_recv into `staging`, but the transport may leave the message where
  // the sender keeps it, mapped into this process, and skip the copy. Once
  // `done` is kDone, done->view points at the message (in `staging` or in
  // the mapping) until release_view(peer, done), which the caller must call
  // after reading it; the matching send completes only then. Before that,
  // cancel(done) withdraws it like any receive.
  virtual void post_recv_view(int peer, uint64_t tag, void* staging, size_t bytes, Completion* done) {
    done->view = static_cast<const std::byte*>(staging);
    post_recv(peer, tag, staging, bytes, done);
  }
  virtual void release_view(int peer, Completion* done) { (void)peer, (void)done; }

  // Opens the connections to `peer` now instead of on its first message, so
  // that the setups of several peers overlap, and asks for at least
  // `connections` parallel ones; both ends should ask for the same count,
  // before any message between them. Returns how many there are: 1 where
  // the transport has no such notion (shared memory, loopback). post_send
  // keeps to the connections (lanes) the transport was configured with; the
  // others carry only post_send_via. The topology probe streams over all of
  // them so that several TCP windows open at once.
  virtual int connect(int peer, int connections) {
    (void)peer, (void)connections;
    return 1;
  }

  // How many connections post_send spreads `peer`'s messages over, sized to
  // the link (a long, fat link needs several TCP windows). Call it before
  // the first message to `peer`, alike on both ends. Transports without
  // lanes ignore it.
  virtual void set_lanes(int peer, int lanes) { (void)peer, (void)lanes; }

  // post_send through connection `connection` (0 .. connect()'s count - 1)
  // to `peer`. Messages with equal tags must take the same connection, or
  // they may arrive out of order.
  virtual void post_send_via(int peer, int connection, uint64_t tag, const void* data, size_t bytes,
                             Completion* done) {
    (void)connection;
    post_send(peer, tag, data, bytes, done);
  }

  // The connection (lane) that post_send(peer, tag, ...) takes, for
  // telemetry; 0 where the transport has no lanes. Both ends agree on it.
  virtual int lane_of(int peer, uint64_t tag) { (void)peer, (void)tag; return 0; }

  // Why `peer` is known to be gone (its process died, its connection
  // reset, it closed its transport), or empty while nothing says so. The
  // executor asks about every member of a collective, not only the peers it
  // waits on, so that a death two hops away fails the call at once.
  virtual std::string peer_failure(int peer) { (void)peer; return {}; }

  // The executor found `peer` gone (`why`, from peer_failure) through this
  // or another transport; a transport that can tell the other ranks (UCX's
  // failure notice) does, so that ranks which only reach the dead one
  // through others learn of it at once and name it.
  virtual void report_failure(int peer, const std::string& why) { (void)peer, (void)why; }

  // Withdraws a transfer that is still pending. On return the transport no
  // longer touches its buffer or `done`.
  virtual void cancel(Completion* done) = 0;

  // Moves bytes; returns true if anything happened (a completion, a
  // partial transfer). Cheap when there is nothing to do.
  virtual bool progress() = 0;

  // Blocks until the transport may have something to progress or `timeout`
  // passes. Must sleep in the kernel, not spin, so that more ranks than cores
  // still make progress. By default: arm_wait(), one ppoll on its
  // descriptors, disarm_wait(); a transport that cannot arm overrides it.
  virtual void wait_for_activity(std::chrono::microseconds timeout) {
    if (timeout.count() <= 0) return;  // a zero wait would only cost syscalls
    WaitSet set{.fds = {}, .timeout = timeout};
    if (arm_wait(set) != Armed::kArmed) return;
    sleep_on(set);
    disarm_wait();
  }

  // Sleeping on several transports together (RoutedTransport), in the manner
  // of ucp_worker_arm: kArmed added this transport's descriptors to `set`
  // and the caller must call disarm_wait() after polling; kBusy means there
  // is work to progress now and nothing was armed; kUnsupported means this
  // transport can only sleep alone, through wait_for_activity().
  enum class Armed { kUnsupported, kBusy, kArmed };
  virtual Armed arm_wait(WaitSet& /*set*/) { return Armed::kUnsupported; }
  virtual void disarm_wait() {}
};

}  // namespace strata::runtime
