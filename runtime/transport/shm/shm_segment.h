// The operating-system pieces of the shared-memory transport: POSIX shared
// memory segments, the sockets that wake a sleeping transport, and watching
// whether a peer process is still alive.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace strata::runtime::shm {

// A mapped POSIX shared-memory segment. The creator's object unlinks the
// name in unlink() or, at the latest, in its destructor.
class Segment {
 public:
  Segment() = default;
  ~Segment();
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // A fresh zero-filled segment with a name no other process uses
  // ("/strata-shm-<pid>-<random>"). Throws Error(kSystem).
  static Segment create(size_t bytes);
  // Maps the segment another process created. Throws Error(kSystem).
  static Segment open(const std::string& name, size_t bytes);

  // Removes the name; the memory stays mapped until every process unmaps it.
  void unlink();

  std::byte* base() const { return base_; }
  size_t bytes() const { return bytes_; }
  const std::string& name() const { return name_; }

 private:
  std::byte* base_ = nullptr;
  size_t bytes_ = 0;
  std::string name_;
  bool linked_ = false;  // this object created the name and has not unlinked it
};

// Waking a transport that sleeps: a UNIX datagram socket per transport,
// bound to a path next to its segment in /dev/shm (wake_path). Peers connect
// to it during setup; the path is then unlinked with the segment, and the
// connected sockets keep working. A futex word would be a little cheaper,
// but a socket can be polled together with other descriptors (UCX's event
// fd), so a transport that routes between this one and UCX can sleep on both.
std::string wake_path(const std::string& segment_name);

class WakeReceiver {
 public:
  WakeReceiver() = default;
  ~WakeReceiver();
  WakeReceiver(WakeReceiver&& other) noexcept;
  WakeReceiver& operator=(WakeReceiver&& other) noexcept;
  WakeReceiver(const WakeReceiver&) = delete;
  WakeReceiver& operator=(const WakeReceiver&) = delete;

  // Throws Error(kSystem).
  static WakeReceiver bind(const std::string& path);

  int fd() const { return fd_; }
  void drain() const;  // discards every wake received so far
  void unlink();

 private:
  int fd_ = -1;
  std::string path_;  // non-empty while bound to it and not unlinked
};

class WakeSender {
 public:
  WakeSender() = default;
  ~WakeSender();
  WakeSender(WakeSender&& other) noexcept;
  WakeSender& operator=(WakeSender&& other) noexcept;
  WakeSender(const WakeSender&) = delete;
  WakeSender& operator=(const WakeSender&) = delete;

  // Throws Error(kSystem).
  static WakeSender connect(const std::string& path);

  // Never blocks or raises SIGPIPE; a full queue means the receiver has
  // wakes pending anyway, and a receiver that is gone is noticed elsewhere.
  void notify() const;

 private:
  int fd_ = -1;
};

// Whether a peer process still runs. Uses a pidfd, which turns readable
// when the process exits (also while it is an unreaped zombie, which
// kill(pid, 0) would report as alive), and falls back to kill(pid, 0) where
// pidfd_open is unavailable. A watch of this process's own pid is always alive.
class ProcessWatch {
 public:
  ProcessWatch() = default;
  explicit ProcessWatch(pid_t pid);
  ~ProcessWatch();
  ProcessWatch(ProcessWatch&& other) noexcept;
  ProcessWatch& operator=(ProcessWatch&& other) noexcept;
  ProcessWatch(const ProcessWatch&) = delete;
  ProcessWatch& operator=(const ProcessWatch&) = delete;

  bool alive() const;
  // Stopped by a signal or a tracer (state T or t in /proc); false for this process.
  bool stopped() const;
  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_; }  // -1 where pidfd_open is unavailable

 private:
  pid_t pid_ = 0;
  int pidfd_ = -1;
  bool self_ = false;
};

}  // namespace strata::runtime::shm
