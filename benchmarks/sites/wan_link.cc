#include "wan_link.h"

#include <algorithm>
#include <cmath>

namespace strata::sites {

void SampleStats::add(double x) {
  min = count ? std::min(min, x) : x;
  max = count ? std::max(max, x) : x;
  sum += x;
  sum_sq += x * x;
  ++count;
}

double SampleStats::stddev() const {
  if (count < 2) return 0;
  double m = mean();
  return std::sqrt(std::max(0.0, sum_sq / count - m * m));
}

WanLink::WanLink(const LinkParams& params, uint64_t seed)
    : params_(params), rng_(seed) {}

int64_t WanLink::serialization_ns(uint32_t len) {
  if (params_.rate_bps == 0) return 0;
  // Integer division with carried remainder: small packets at high rates
  // would otherwise lose up to 1 ns each and run the link measurably fast.
  uint64_t bit_ns = uint64_t(len) * 8'000'000'000ull + ser_carry_;
  ser_carry_ = bit_ns % params_.rate_bps;
  return int64_t(bit_ns / params_.rate_bps);
}

int64_t WanLink::jitter_ns() {
  if (params_.jitter_ns == 0) return 0;
  std::uniform_int_distribution<int64_t> dist(-params_.jitter_ns,
                                              params_.jitter_ns);
  return dist(rng_);
}

namespace {

// Bits the wire sends in [from_ns, to_ns) at `rate_bps`; double because
// (seconds of backlog) x (bit/s) overflows 64-bit ns arithmetic.
double wire_bits(int64_t from_ns, int64_t to_ns, uint64_t rate_bps) {
  return to_ns > from_ns ? double(to_ns - from_ns) * 1e-9 * double(rate_bps)
                         : 0.0;
}

}  // namespace

uint64_t WanLink::backlog_bytes(int64_t now_ns) const {
  double bits = 0;
  int64_t from = now_ns;
  for (const EarlierWire& wire : earlier_wire_) {
    bits += wire_bits(from, wire.end_ns, wire.rate_bps);
    from = std::max(from, wire.end_ns);
  }
  bits += wire_bits(from, tx_free_ns_, params_.rate_bps);
  return uint64_t(bits / 8.0);
}

bool WanLink::set_params(const LinkParams& params, int64_t now_ns) {
  if (params == params_) return false;
  if (params.rate_bps != params_.rate_bps) {
    if (params_.rate_bps != 0 && tx_free_ns_ > now_ns) {
      earlier_wire_.push_back({tx_free_ns_, params_.rate_bps});
    }
    ser_carry_ = 0;  // a remainder of the old rate's bit time
  }
  params_ = params;
  return true;
}

Admission WanLink::admit(uint32_t len, int64_t now_ns) {
  std::erase_if(earlier_wire_, [now_ns](const EarlierWire& wire) {
    return wire.end_ns <= now_ns;
  });
  counters_.rx_pkts++;
  counters_.rx_bytes += len;
  if (params_.loss > 0 &&
      std::uniform_real_distribution<double>(0, 1)(rng_) < params_.loss) {
    counters_.drop_loss_pkts++;
    return {Admission::Verdict::kDropLoss, 0};
  }
  uint64_t backlog = backlog_bytes(now_ns);
  if (params_.queue_bytes != 0 && backlog + len > params_.queue_bytes) {
    counters_.drop_queue_pkts++;
    counters_.drop_queue_bytes += len;
    return {Admission::Verdict::kDropQueue, 0};
  }
  counters_.backlog_max_bytes =
      std::max(counters_.backlog_max_bytes, backlog + len);
  tx_free_ns_ = std::max(tx_free_ns_, now_ns) + serialization_ns(len);
  int64_t due = tx_free_ns_ + params_.delay_ns + jitter_ns();
  // Jitter never makes a packet leave before it finished serializing.
  due = std::max(due, tx_free_ns_);
  if (!params_.reorder) due = std::max(due, last_due_ns_);
  last_due_ns_ = std::max(last_due_ns_, due);
  counters_.inflight_pkts++;
  counters_.inflight_bytes += len;
  return {Admission::Verdict::kAccept, due};
}

void WanLink::record_delivery(uint32_t len, int64_t arrived_ns,
                              int64_t due_ns, int64_t now_ns, bool written,
                              int64_t late_threshold_ns) {
  counters_.inflight_pkts--;
  counters_.inflight_bytes -= len;
  if (!written) {
    counters_.drop_write_pkts++;
    return;
  }
  counters_.tx_pkts++;
  counters_.tx_bytes += len;
  int64_t late = now_ns - due_ns;
  counters_.lateness_ns.add(double(std::max<int64_t>(late, 0)));
  counters_.sojourn_ns.add(double(now_ns - arrived_ns));
  if (late > late_threshold_ns) {
    counters_.late_pkts++;
    counters_.late_max_ns = std::max(counters_.late_max_ns, late);
    window_late_max_ns_ = std::max(window_late_max_ns_, late);
  }
}

}  // namespace strata::sites
