// Which process a rank is, so that a peer on the same host can notice that it
// died. UCX's own keepalive cannot do this over shared memory while a send
// fills the dead peer's queue (UCX 1.13 skips the keepalive round then).
#pragma once

#include <array>
#include <cstdint>

namespace strata::runtime {

// Plain bytes: exchanged through Bootstrap::allgather.
struct ProcessIdentity {
  std::array<char, 40> boot_id{};  // /proc/sys/kernel/random/boot_id: this boot of this host
  uint64_t pid_namespace = 0;      // inode of /proc/self/ns/pid
  int64_t pid = 0;
  uint64_t start_ticks = 0;        // field 22 of /proc/<pid>/stat: tells a reused pid apart
};

ProcessIdentity this_process_identity();

// Whether this process can see `other` in /proc: same boot of the same host
// and the same pid namespace. Network namespaces do not matter.
bool can_watch(const ProcessIdentity& self, const ProcessIdentity& other);

// False once the process is gone or its pid belongs to another process.
bool process_alive(const ProcessIdentity& other);

}  // namespace strata::runtime
