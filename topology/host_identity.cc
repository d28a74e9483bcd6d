#include "topology/host_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace strata::topology {

std::string detect_host_id(const std::string& override_id) {
  if (!override_id.empty()) return override_id;
  char hostname[256] = {};
  gethostname(hostname, sizeof hostname - 1);
  struct stat netns {};
  const unsigned long long inode = stat("/proc/self/ns/net", &netns) == 0 ? netns.st_ino : 0;
  return fmt::format("{}:{}", hostname, inode);
}

}  // namespace strata::topology
