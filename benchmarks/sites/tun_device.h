// Attaching to a site's TUN device.
#pragma once

#include <string>

namespace strata::sites {

// Opens the persistent TUN device `tun_name` that lives in the network
// namespace bound at `netns_path` (non-blocking, IFF_TUN | IFF_NO_PI) and
// returns its fd. The calling thread returns to its own namespace afterwards.
// Throws std::system_error with the failing step in the message.
int tun_open_in_netns(const std::string& netns_path,
                      const std::string& tun_name);

}  // namespace strata::sites
