// One direction of an emulated WAN link: loss, bottleneck queue, rate,
// one-way delay and jitter. Pure bookkeeping on timestamps; the emulator
// loop owns the packets and the clock.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "emu_config.h"

namespace strata::sites {

// Running min/max/mean/stddev without storing samples (Welford would be
// steadier, but sums of ns in double are exact enough for microsecond
// reporting over hours).
struct SampleStats {
  uint64_t count = 0;
  double min = 0, max = 0, sum = 0, sum_sq = 0;
  void add(double x);
  double mean() const { return count ? sum / count : 0; }
  double stddev() const;
};

struct LinkCounters {
  uint64_t rx_pkts = 0, rx_bytes = 0;  // offered by the source site
  uint64_t tx_pkts = 0, tx_bytes = 0;  // written to the destination site
  uint64_t drop_loss_pkts = 0;         // random loss (configured)
  uint64_t drop_queue_pkts = 0;        // bottleneck queue overflow
  uint64_t drop_queue_bytes = 0;
  uint64_t drop_write_pkts = 0;        // destination TUN refused the write
  uint64_t late_pkts = 0;              // delivered later than the threshold
  int64_t late_max_ns = 0;
  uint64_t backlog_max_bytes = 0;      // deepest bottleneck queue seen
  uint64_t inflight_pkts = 0, inflight_bytes = 0;
  SampleStats sojourn_ns;              // delivered - arrived, per packet
  SampleStats lateness_ns;             // delivered - due, per packet
};

struct Admission {
  enum class Verdict { kAccept, kDropLoss, kDropQueue };
  Verdict verdict;
  int64_t due_ns;  // when to deliver, valid for kAccept
};

class WanLink {
 public:
  WanLink(const LinkParams& params, uint64_t seed);

  // Decides the fate of a packet of `len` bytes arriving at `now_ns`.
  Admission admit(uint32_t len, int64_t now_ns);
  // Accounts a packet that left the emulator (or failed to).
  void record_delivery(uint32_t len, int64_t arrived_ns, int64_t due_ns,
                       int64_t now_ns, bool written, int64_t late_threshold_ns);
  // Bytes waiting for serialization at `now_ns` (the bottleneck queue).
  uint64_t backlog_bytes(int64_t now_ns) const;
  // Parameters for packets admitted from `now_ns` on (`strata-sites set`).
  // Packets already queued keep their due times: they serialize at the old
  // rate, and new packets queue behind them. Returns false if unchanged.
  bool set_params(const LinkParams& params, int64_t now_ns);

  // Worst lateness since the previous call (for per-window warnings).
  int64_t take_window_late_max_ns() {
    int64_t worst = window_late_max_ns_;
    window_late_max_ns_ = 0;
    return worst;
  }

  const LinkParams& params() const { return params_; }
  const LinkCounters& counters() const { return counters_; }

 private:
  // Wire time booked before a rate change: it drains at the old rate, so the
  // queue keeps counting those packets' bytes exactly until they are sent.
  struct EarlierWire {
    int64_t end_ns;
    uint64_t rate_bps;
  };

  int64_t serialization_ns(uint32_t len);
  int64_t jitter_ns();

  LinkParams params_;
  std::vector<EarlierWire> earlier_wire_;  // oldest first
  LinkCounters counters_;
  std::mt19937_64 rng_;
  int64_t tx_free_ns_ = 0;   // when the "wire" finishes the last packet
  uint64_t ser_carry_ = 0;   // remainder of bit-time division, keeps rate exact
  int64_t last_due_ns_ = 0;  // FIFO guard when reordering is off
  int64_t window_late_max_ns_ = 0;
};

}  // namespace strata::sites
