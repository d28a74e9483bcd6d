// The 64-bit tag every message carries. UCX matches on tags only, so the tag
// says who sent it and which message of which operation it is:
//   [63:52] communicator id (12 bits: hash of the creation lineage)
//   [51:32] sender's transport rank (20 bits: up to 1M ranks)
//   [31]    point-to-point (1) or collective (0)
//   [30:18] sequence (13 bits: collective number, or n-th send/recv to a peer)
//   [17:0]  message index within the operation (18 bits)
// Sequence numbers wrap; operations 8192 apart are never in flight together.
#pragma once

#include <cstdint>

namespace strata::runtime {

struct WireTag {
  uint32_t comm_id = 0;
  bool point_to_point = false;
  uint32_t sequence = 0;

  uint64_t for_message(uint32_t sender, uint32_t index) const {
    return (uint64_t{comm_id & 0xfff} << 52) | (uint64_t{sender & 0xfffff} << 32) |
           (uint64_t{point_to_point} << 31) | (uint64_t{sequence & 0x1fff} << 18) | (index & 0x3ffff);
  }
};

}  // namespace strata::runtime
