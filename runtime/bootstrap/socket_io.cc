#include "runtime/bootstrap/socket_io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/log.h"

namespace strata::runtime::net {

Deadline deadline_after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

int milliseconds_until(Deadline deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);  // close() is not retried on EINTR: on Linux the fd is gone either way
  fd_ = -1;
}

bool interface_matches(std::string_view spec, std::string_view name) {
  bool exclude = false, exact = false;
  if (spec.starts_with('^')) exclude = true, spec.remove_prefix(1);
  if (spec.starts_with('=')) exact = true, spec.remove_prefix(1);
  bool listed = false;
  while (!spec.empty() && !listed) {
    const size_t comma = spec.find(',');
    const std::string_view entry = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    listed = !entry.empty() && (exact ? name == entry : name.starts_with(entry));
  }
  return listed != exclude;
}

in_addr pick_interface_address(const std::string& ifname) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    fail(ErrorCode::kSystem, {-1, -1, "bootstrap unique id"}, "getifaddrs failed: {}", std::strerror(errno));
  }
  in_addr found{};
  bool have = false;
  for (ifaddrs* entry = list; entry != nullptr && !have; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    const bool up_not_loopback = (entry->ifa_flags & IFF_UP) && !(entry->ifa_flags & IFF_LOOPBACK);
    // A list of names picks among them; an exclusion list ("^docker")
    // still skips loopback and interfaces that are down.
    const bool wanted = ifname.empty()           ? up_not_loopback
                        : ifname.starts_with('^') ? up_not_loopback && interface_matches(ifname, entry->ifa_name)
                                                  : interface_matches(ifname, entry->ifa_name);
    if (!wanted) continue;
    found = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr;
    have = true;
  }
  freeifaddrs(list);
  if (have) return found;
  if (!ifname.empty()) {
    fail(ErrorCode::kInvalidArgument, {-1, -1, "bootstrap unique id"},
         "no interface matching '{}' (STRATA_SOCKET_IFNAME or NCCL_SOCKET_IFNAME) has an IPv4 address", ifname);
  }
  log(LogLevel::kWarn,
      "no network interface other than loopback is up: the unique id advertises 127.0.0.1, which only ranks on "
      "this host can reach (set STRATA_SOCKET_IFNAME to choose one)");
  found.s_addr = htonl(INADDR_LOOPBACK);
  return found;
}

std::string format_address(in_addr address, uint16_t port) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address, text, sizeof(text));
  return std::string(text) + ":" + std::to_string(port);
}

void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    fail(ErrorCode::kSystem, {-1, -1, "bootstrap socket"}, "fcntl(O_NONBLOCK) failed: {}", std::strerror(errno));
  }
}

namespace {

Fd new_tcp_socket() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    fail(ErrorCode::kSystem, {-1, -1, "bootstrap socket"}, "socket() failed: {}", std::strerror(errno));
  }
  // Bootstrap messages are small and latency-bound: send them at once.
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Waits until `fd` reports `events`; false on timeout. Retries EINTR.
bool poll_until(int fd, short events, Deadline deadline) {
  while (true) {
    pollfd entry{fd, events, 0};
    int ready = ::poll(&entry, 1, milliseconds_until(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return true;  // let the following call report the error
  }
}

// One non-blocking connect attempt; returns 0 or an errno.
int try_connect(int fd, const sockaddr_in& target, Deadline deadline) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof(target)) == 0) return 0;
  if (errno != EINPROGRESS && errno != EINTR) return errno;
  if (!poll_until(fd, POLLOUT, deadline)) return ETIMEDOUT;
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

}  // namespace

Fd listen_on_port(uint16_t* port) {
  Fd fd = new_tcp_socket();
  const int reuse = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  any.sin_port = htons(*port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)) != 0 || ::listen(fd.get(), 1024) != 0) {
    fail(ErrorCode::kSystem, {-1, -1, "bootstrap listen"}, "bind/listen on port {} failed: {}", *port,
         std::strerror(errno));
  }
  socklen_t length = sizeof(any);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&any), &length);
  *port = ntohs(any.sin_port);
  return fd;
}

in_addr resolve_ipv4(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int status = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (status != 0 || found == nullptr) {
    fail(ErrorCode::kInvalidArgument, {-1, -1, "bootstrap address"}, "cannot resolve '{}' to an IPv4 address: {}",
         host, gai_strerror(status));
  }
  const in_addr address = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
  freeaddrinfo(found);
  return address;
}

Fd connect_until(in_addr address, uint16_t port, Deadline deadline) {
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_addr = address;
  target.sin_port = htons(port);
  auto backoff = std::chrono::milliseconds(5);
  while (Clock::now() < deadline) {
    Fd fd = new_tcp_socket();
    int error = try_connect(fd.get(), target, deadline);
    if (error == 0) return fd;
    // The root may not be listening yet (or is momentarily overloaded): retry.
    std::this_thread::sleep_for(std::min<Clock::duration>(backoff, deadline - Clock::now()));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
  }
  return Fd();
}

const char* io_status_text(IoStatus status) {
  switch (status) {
    case IoStatus::kOk: return "ok";
    case IoStatus::kTimeout: return "timed out";
    case IoStatus::kClosed: return "connection closed";
    case IoStatus::kError: return "socket error";
  }
  return "?";
}

IoStatus write_all(int fd, const void* data, size_t bytes, Deadline deadline) {
  const auto* next = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t sent = ::send(fd, next, bytes, MSG_NOSIGNAL);
    if (sent > 0) {
      next += sent;
      bytes -= static_cast<size_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return errno == EPIPE ? IoStatus::kClosed : IoStatus::kError;
    if (!poll_until(fd, POLLOUT, deadline)) return IoStatus::kTimeout;
  }
  return IoStatus::kOk;
}

IoStatus read_all(int fd, void* data, size_t bytes, Deadline deadline) {
  auto* next = static_cast<char*>(data);
  while (bytes > 0) {
    ssize_t got = ::recv(fd, next, bytes, 0);
    if (got > 0) {
      next += got;
      bytes -= static_cast<size_t>(got);
      continue;
    }
    if (got == 0) return IoStatus::kClosed;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
    if (!poll_until(fd, POLLIN, deadline)) return IoStatus::kTimeout;
  }
  return IoStatus::kOk;
}

}  // namespace strata::runtime::net
