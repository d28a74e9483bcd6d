// Deadline-bounded TCP helpers for the unique-id rendezvous. Every blocking
// step polls with the time left until a deadline, retries on EINTR and loops
// over partial transfers, so no bootstrap path can hang past its timeout.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata::runtime::net {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

Deadline deadline_after(double seconds);
// Milliseconds until `deadline`, rounded up so a short wait never becomes a spin; 0 once past.
int milliseconds_until(Deadline deadline);

// Owns one file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset();

 private:
  int fd_ = -1;
};

// Whether interface `name` matches an NCCL_SOCKET_IFNAME-style list:
// comma-separated prefixes ("eth,ib"), "=" for exact names ("=eth0"), a
// leading "^" to exclude instead ("^docker,lo").
bool interface_matches(std::string_view spec, std::string_view name);

// The IPv4 address of the first interface `ifname` (a list, as above)
// matches; with an empty list the first UP non-loopback IPv4 interface, else
// 127.0.0.1 with a warning. Throws Error(kInvalidArgument) when a non-empty
// list matches no interface with an IPv4 address.
in_addr pick_interface_address(const std::string& ifname);
std::string format_address(in_addr address, uint16_t port);

// A non-blocking socket listening on INADDR_ANY at *port, or at an
// ephemeral port when *port is 0 (stored back in *port).
Fd listen_on_port(uint16_t* port);

// `host` (a name or dotted quad) as an IPv4 address; throws
// Error(kInvalidArgument) naming it when it does not resolve.
in_addr resolve_ipv4(const std::string& host);

// Connects to address:port, retrying refused or unreachable attempts until
// `deadline`. Returns an invalid Fd on timeout; the socket is non-blocking.
Fd connect_until(in_addr address, uint16_t port, Deadline deadline);

void set_nonblocking(int fd);

enum class IoStatus { kOk, kTimeout, kClosed, kError };
const char* io_status_text(IoStatus status);

// Transfers exactly `bytes` on a non-blocking socket or stops at the deadline.
// On kError, errno says why.
IoStatus write_all(int fd, const void* data, size_t bytes, Deadline deadline);
IoStatus read_all(int fd, void* data, size_t bytes, Deadline deadline);

}  // namespace strata::runtime::net
