#include "runtime/transport/shm/shm_segment.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>

#include "common/error.h"

namespace strata::runtime::shm {
namespace {

[[noreturn]] void fail_system(const std::string& what, const std::string& name, int error_number) {
  fail(ErrorCode::kSystem, {-1, -1, "shm setup"}, "shm: {} '{}' failed: {}", what, name, std::strerror(error_number));
}

std::string unique_name() {
  std::random_device random;
  uint64_t bits = (uint64_t{random()} << 32) | random();
  return fmt::format("/strata-shm-{}-{:016x}", ::getpid(), bits);
}

std::byte* map_fd(int fd, size_t bytes, const std::string& name) {
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    int error_number = errno;
    ::close(fd);
    fail_system("mmap of", name, error_number);
  }
  ::close(fd);  // the mapping keeps the memory
  return static_cast<std::byte*>(base);
}

}  // namespace

Segment::~Segment() {
  if (base_ != nullptr) ::munmap(base_, bytes_);
  unlink();
}

Segment::Segment(Segment&& other) noexcept { *this = std::move(other); }

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, bytes_);
    unlink();
    base_ = std::exchange(other.base_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    name_ = std::move(other.name_);
    linked_ = std::exchange(other.linked_, false);
  }
  return *this;
}

Segment Segment::create(size_t bytes) {
  Segment segment;
  segment.name_ = unique_name();
  int fd = ::shm_open(segment.name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) fail_system("shm_open (create) of", segment.name_, errno);
  segment.linked_ = true;  // from here on the destructor removes the name
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    int error_number = errno;
    ::close(fd);
    fail_system("ftruncate of", segment.name_, error_number);
  }
  segment.base_ = map_fd(fd, bytes, segment.name_);
  segment.bytes_ = bytes;
  return segment;
}

Segment Segment::open(const std::string& name, size_t bytes) {
  int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) fail_system("shm_open of a peer's segment", name, errno);
  struct stat info {};
  if (::fstat(fd, &info) != 0 || static_cast<size_t>(info.st_size) < bytes) {
    ::close(fd);
    fail(ErrorCode::kSystem, {-1, -1, "shm setup"}, "shm: peer segment '{}' is smaller than the {} bytes announced",
         name, bytes);
  }
  Segment segment;
  segment.name_ = name;
  segment.base_ = map_fd(fd, bytes, name);
  segment.bytes_ = bytes;
  return segment;
}

void Segment::unlink() {
  if (!linked_) return;
  ::shm_unlink(name_.c_str());
  linked_ = false;
}

std::string wake_path(const std::string& segment_name) { return "/dev/shm" + segment_name + ".wake"; }

namespace {

sockaddr_un socket_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    fail(ErrorCode::kSystem, {-1, -1, "shm setup"}, "shm: wake socket path '{}' is too long", path);
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

int datagram_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_system("socket for", path, errno);
  return fd;
}

}  // namespace

WakeReceiver WakeReceiver::bind(const std::string& path) {
  WakeReceiver receiver;
  const sockaddr_un address = socket_address(path);
  receiver.fd_ = datagram_socket(path);
  if (::bind(receiver.fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    fail_system("bind of wake socket", path, errno);
  }
  receiver.path_ = path;
  return receiver;
}

void WakeReceiver::drain() const {
  char bytes[64];
  while (::recv(fd_, bytes, sizeof(bytes), MSG_DONTWAIT) > 0) {
  }
}

void WakeReceiver::unlink() {
  if (path_.empty()) return;
  ::unlink(path_.c_str());
  path_.clear();
}

WakeReceiver::~WakeReceiver() {
  unlink();
  if (fd_ >= 0) ::close(fd_);
}

WakeReceiver::WakeReceiver(WakeReceiver&& other) noexcept { *this = std::move(other); }

WakeReceiver& WakeReceiver::operator=(WakeReceiver&& other) noexcept {
  if (this != &other) {
    unlink();
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

WakeSender WakeSender::connect(const std::string& path) {
  WakeSender sender;
  const sockaddr_un address = socket_address(path);
  sender.fd_ = datagram_socket(path);
  if (::connect(sender.fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    fail_system("connect to the wake socket", path, errno);
  }
  return sender;
}

void WakeSender::notify() const {
  const char byte = 1;
  [[maybe_unused]] ssize_t sent = ::send(fd_, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

WakeSender::~WakeSender() {
  if (fd_ >= 0) ::close(fd_);
}

WakeSender::WakeSender(WakeSender&& other) noexcept { *this = std::move(other); }

WakeSender& WakeSender::operator=(WakeSender&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

// A pidfd of this process too: alive() never polls it, but node-shared
// buffers of ranks on threads of one process are mapped through it.
ProcessWatch::ProcessWatch(pid_t pid) : pid_(pid), self_(pid == ::getpid()) {
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

ProcessWatch::~ProcessWatch() {
  if (pidfd_ >= 0) ::close(pidfd_);
}

ProcessWatch::ProcessWatch(ProcessWatch&& other) noexcept { *this = std::move(other); }

ProcessWatch& ProcessWatch::operator=(ProcessWatch&& other) noexcept {
  if (this != &other) {
    if (pidfd_ >= 0) ::close(pidfd_);
    pid_ = other.pid_;
    self_ = other.self_;
    pidfd_ = std::exchange(other.pidfd_, -1);
  }
  return *this;
}

bool ProcessWatch::stopped() const {
  if (self_ || pid_ <= 0) return false;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid_));
  FILE* file = std::fopen(path, "re");
  if (file == nullptr) return false;
  char line[512];
  const size_t got = std::fread(line, 1, sizeof(line) - 1, file);
  std::fclose(file);
  line[got] = '\0';
  // The state follows the command name, which may hold ") ": take the last one.
  const char* end = std::strrchr(line, ')');
  return end != nullptr && end[1] == ' ' && (end[2] == 'T' || end[2] == 't');
}

bool ProcessWatch::alive() const {
  if (self_ || pid_ <= 0) return true;
  if (pidfd_ >= 0) {
    pollfd fd{pidfd_, POLLIN, 0};
    return ::poll(&fd, 1, 0) == 0;
  }
  return ::kill(pid_, 0) == 0 || errno != ESRCH;
}

}  // namespace strata::runtime::shm
