// A communicator's compression settings (docs/compression.md): which calls
// encode their inter-site leg, and the check that every rank agrees.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "collectives/network.h"
#include "collectives/request.h"
#include "compression/codec.h"

namespace strata::runtime {

struct CompressionSettings {
  compression::Format format = compression::Format::kNone;
  uint64_t min_bytes = uint64_t{1} << 20;  // smaller calls stay exact
  double max_link_gbps = 25;               // faster inter-site links stay exact

  // What ranks compare at setup: equal settings, equal hashes.
  uint64_t hash() const;
  std::string describe() const;
};

// The settings from STRATA_COMPRESSION* (throws naming the variable).
CompressionSettings compression_from_config();

// `fallback` with the non-empty fields of CommOptions applied; throws
// Error(kInvalidArgument) naming the option and `rank` for a bad format.
CompressionSettings compression_with_options(CompressionSettings fallback, const std::string& format,
                                             uint64_t min_bytes, double max_link_gbps, int rank);

// The format `request` crosses sites in: the settings' format for a float32
// sum (or average) of at least min_bytes on a network whose slowest
// inter-site link is slower than max_link_gbps; otherwise none.
compression::Format wan_format_for(const CompressionSettings& settings, const collectives::CollectiveRequest& request,
                                   const collectives::Network& network);

// Every rank's settings hash, gathered: throws Error(kInvalidArgument) at
// `rank` naming the first rank whose settings differ from rank 0's.
void check_compression_agreement(std::span<const uint64_t> hashes, const CompressionSettings& mine, int rank);

}  // namespace strata::runtime
