// Why persistent TUNs made by `ip tuntap` inside each namespace and opened
// here via setns(), instead of TUNs the emulator creates in the root
// namespace and moves: the CLI can then build and check the whole network
// (addresses, routes, MTU, sysctls) before the emulator starts, every site
// uses the same device name inside its own namespace, and the emulator can
// be restarted with new link parameters without touching the sites. A TUN
// fd stays bound to its device's namespace, so one process can hold all of
// them and move packets between namespaces without any `ip` knowledge.
#include "tun_device.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace strata::sites {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Restores the original network namespace when it goes out of scope, so an
// error halfway never leaves the emulator inside a site.
class NetnsGuard {
 public:
  NetnsGuard() : self_fd_(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
    if (self_fd_ < 0) throw_errno("open /proc/self/ns/net");
  }
  ~NetnsGuard() {
    setns(self_fd_, CLONE_NEWNET);
    close(self_fd_);
  }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int self_fd_;
};

void enter_netns(const std::string& netns_path) {
  int ns_fd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns_fd < 0) throw_errno("open " + netns_path);
  int rc = setns(ns_fd, CLONE_NEWNET);
  int saved = errno;
  close(ns_fd);
  errno = saved;
  if (rc != 0) throw_errno("setns " + netns_path);
}

}  // namespace

int tun_open_in_netns(const std::string& netns_path,
                      const std::string& tun_name) {
  NetnsGuard guard;
  enter_netns(netns_path);
  // /dev/net/tun binds to the namespace current at open() time.
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw_errno("open /dev/net/tun");
  struct ifreq ifr {};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, tun_name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    throw_errno("TUNSETIFF " + tun_name + " in " + netns_path);
  }
  return fd;
}

}  // namespace strata::sites
