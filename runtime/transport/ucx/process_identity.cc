#include "runtime/transport/ucx/process_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace strata::runtime {
namespace {

// Start time in clock ticks after boot; 0 if the process does not exist.
uint64_t start_ticks_of(int64_t pid) {
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat_file, line)) return 0;
  // The command name (field 2) may hold spaces and parentheses: fields
  // after it start past the last ')'. starttime is field 22, the 20th after it.
  size_t name_end = line.rfind(')');
  if (name_end == std::string::npos) return 0;
  std::istringstream fields(line.substr(name_end + 1));
  std::string field;
  for (int index = 3; index <= 22 && (fields >> field); ++index) {
    if (index == 3 && field == "Z") return 0;  // a zombie has died already
    if (index == 22) return std::stoull(field);
  }
  return 0;
}

}  // namespace

ProcessIdentity this_process_identity() {
  ProcessIdentity identity;
  std::ifstream boot_file("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  std::getline(boot_file, boot_id);
  std::strncpy(identity.boot_id.data(), boot_id.c_str(), identity.boot_id.size() - 1);
  struct stat ns {};
  if (::stat("/proc/self/ns/pid", &ns) == 0) identity.pid_namespace = ns.st_ino;
  identity.pid = ::getpid();
  identity.start_ticks = start_ticks_of(identity.pid);
  return identity;
}

bool can_watch(const ProcessIdentity& self, const ProcessIdentity& other) {
  return self.boot_id[0] != '\0' && self.boot_id == other.boot_id && self.pid_namespace != 0 &&
         self.pid_namespace == other.pid_namespace && other.start_ticks != 0;
}

bool process_alive(const ProcessIdentity& other) { return start_ticks_of(other.pid) == other.start_ticks; }

}  // namespace strata::runtime
