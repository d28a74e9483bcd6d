// Turning raw probe timings into link figures. Pure functions, so the rules
// are unit-tested on synthetic timings (tests/topology/link_estimates_test.cc).
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

namespace strata::topology {

// The middle value (upper middle for an even count); 0 for none.
double median(std::vector<double> values);

// Bandwidth from the arrival times (seconds, any order) of equal chunks of a
// stream: the delivery rate of the link once TCP has opened its window.
//
// The stream is cut into consecutive bins of `bin_s` after the first arrival
// (callers pass at least one RTT: a bin then holds a whole window's worth of
// deliveries, not one line-rate burst of it), widened where needed so that a
// bin holds kMinChunksPerBin chunks at the stream's average rate. Each full
// bin gives a rate. A
// run of k consecutive bins spanning at least `min_span_s` (k odd, at least 3)
// is summarised by its median bin, and the result is the highest such median.
// The median is why bursts do not count: a receiver that was off the CPU, or
// a TCP hole that a retransmission fills, shows as one slow bin followed by
// one fast bin holding the backlog, and a median of 3 or more ignores both.
// Taking the highest run skips TCP's ramp at the start and the drain at the
// end. With too few bins for a run of 3, the median over the bins there are;
// with no full bin, the rate over the whole stream. Bytes per second; 0 with
// fewer than 2 arrivals or no time between them.
//
// `steady` says the stream reached its rate: the plateau, from the first
// bin near the best median (kSteadyShare of it) to the last such bin, lasts
// at least two runs. Then the result is the lower of the best median and the
// mean rate over the plateau (bytes are conserved across a stall and its
// catch-up, so a catch-up spanning several bins inflates the median but not
// the mean; a catch-up that inflated the best median is corrected by finding
// the plateau again at the mean's level). A stream that ended while its
// window was still opening (a long link in a short budget) reaches its best
// only at its end: not steady, and its rate is only a lower bound.
//
// `fed_until_s`: when the sender stopped adding to the stream, as the
// receiver saw it (the end message's arrival). Trailing bins that start
// after it and run below kSteadyShare of the best median are the drain's
// tail and are left out: with 16 connections a retransmission timeout on
// one of them left 3 slow bins after a 50 ms link's plateau, which pulled
// the level down into the ramp (0.41 instead of 0.46-0.50 Gbit/s).
struct DeliveryRate {
  double bytes_per_s = 0;
  bool steady = false;
};
inline constexpr double kSteadyShare = 0.8;
inline constexpr double kMinChunksPerBin = 4;
DeliveryRate delivery_rate(std::vector<double> arrivals_s, double chunk_bytes, double bin_s, double min_span_s,
                           double fed_until_s = std::numeric_limits<double>::infinity());

// delivery_rate with the probe's bins for a stream over a path of `rtt_s`:
// one RTT, at least 20 ms (a receiver off the CPU for a scheduler tick
// should not empty a bin) unless the stream is shorter than 16 such bins;
// runs of 100 ms, or a quarter of a shorter stream. A fast link inside a
// data centre streams its 64 MiB in a few milliseconds and still gets bins.
DeliveryRate stream_delivery_rate(const std::vector<double>& arrivals_s, double chunk_bytes, double rtt_s,
                                  double fed_until_s = std::numeric_limits<double>::infinity());

}  // namespace strata::topology
