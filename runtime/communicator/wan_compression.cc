#include "runtime/communicator/wan_compression.h"

#include <bit>
#include <cmath>

#include "common/error.h"
#include "runtime/config/config.h"

namespace strata::runtime {

uint64_t CompressionSettings::hash() const {
  // FNV-1a over the fields' bytes: stable across processes and builds.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t value) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((value >> (8 * i)) & 0xff)) * 1099511628211ull;
  };
  mix(static_cast<uint64_t>(format));
  mix(min_bytes);
  mix(std::bit_cast<uint64_t>(max_link_gbps));
  return h;
}

std::string CompressionSettings::describe() const {
  if (format == compression::Format::kNone) return "none";
  return fmt::format("{} (calls from {} bytes, links under {} Gbit/s)", compression::format_name(format), min_bytes,
                     max_link_gbps);
}

namespace {

compression::Format parse_or_fail(const std::string& name, const char* what, int rank) {
  const auto format = compression::parse_format(name);
  if (!format)
    fail(ErrorCode::kInvalidArgument, {rank, -1, "compression"},
         "{}='{}' is not a wire format (none, bf16, int8, fp8-e4m3, int4, zstd, bf16+zstd)", what, name);
  return *format;
}

}  // namespace

CompressionSettings compression_from_config() {
  CompressionSettings settings;
  settings.format = parse_or_fail(config().compression, "STRATA_COMPRESSION", -1);
  settings.min_bytes = config().compression_min_bytes;
  settings.max_link_gbps = config().compression_max_gbps;
  return settings;
}

CompressionSettings compression_with_options(CompressionSettings fallback, const std::string& format,
                                             uint64_t min_bytes, double max_link_gbps, int rank) {
  if (!format.empty()) fallback.format = parse_or_fail(format, "compression", rank);
  if (min_bytes > 0) fallback.min_bytes = min_bytes;
  if (max_link_gbps < 0 || std::isnan(max_link_gbps))
    fail(ErrorCode::kInvalidArgument, {rank, -1, "compression"}, "compression_max_gbps={} must be positive",
         max_link_gbps);
  if (max_link_gbps > 0) fallback.max_link_gbps = max_link_gbps;
  return fallback;
}

compression::Format wan_format_for(const CompressionSettings& settings, const collectives::CollectiveRequest& request,
                                   const collectives::Network& network) {
  using collectives::Collective;
  if (settings.format == compression::Format::kNone || request.collective != Collective::kAllReduce ||
      request.dtype != DataType::kFloat32 || request.op != ReduceOp::kSum ||
      request.bytes_per_block() < settings.min_bytes || !network.spans_sites())
    return compression::Format::kNone;
  double slowest = INFINITY;
  const int sites = network.site_count();
  for (int a = 0; a < sites; ++a)
    for (int b = 0; b < sites; ++b)
      if (a != b) slowest = std::min(slowest, network.between_sites(a, b).bandwidth_bytes_per_s);
  return slowest * 8 / 1e9 < settings.max_link_gbps ? settings.format : compression::Format::kNone;
}

void check_compression_agreement(std::span<const uint64_t> hashes, const CompressionSettings& mine, int rank) {
  for (size_t r = 0; r < hashes.size(); ++r) {
    if (hashes[r] == hashes[0]) continue;
    const bool me_differs = hashes[static_cast<size_t>(rank)] != hashes[0];
    fail(ErrorCode::kInvalidArgument, {rank, static_cast<int>(r), "compression"},
         "ranks disagree on compression: rank {} has other settings than rank 0 (this rank: {}{}); set "
         "STRATA_COMPRESSION and the communicator's compression options alike on every rank",
         r, mine.describe(), me_differs ? ", which differs from rank 0" : "");
  }
}

}  // namespace strata::runtime
