// Which host a rank runs on. Hostnames alone are not enough: ranks in
// different network namespaces of one machine (the emulated sites) are
// different hosts, so the namespace's identity is part of the answer.
#pragma once

#include <string>

namespace strata::topology {

// hostname + ":" + network-namespace inode, or `override_id` when not empty.
std::string detect_host_id(const std::string& override_id);

}  // namespace strata::topology
