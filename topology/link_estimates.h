// Turning raw probe timings into link figures. Pure functions, so the rules
// are unit-tested on synthetic timings (tests/topology/link_estimates_test.cc).
#pragma once

#include <cstddef>
#include <vector>

namespace strata::topology {

// The middle value (upper middle for an even count); 0 for none.
double median(std::vector<double> values);

// Bandwidth from the arrival times (seconds, any order) of equal chunks of a
// stream: the delivery rate of the link once TCP has opened its window.
//
// The stream is cut into consecutive bins of `bin_s` after the first arrival
// (callers pass at least one RTT: a bin then holds a whole window's worth of
// deliveries, not one line-rate burst of it). Each full bin gives a rate. A
// run of k consecutive bins spanning at least `min_span_s` (k odd, at least 3)
// is summarised by its median bin, and the result is the highest such median.
// The median is why bursts do not count: a receiver that was off the CPU, or
// a TCP hole that a retransmission fills, shows as one slow bin followed by
// one fast bin holding the backlog, and a median of 3 or more ignores both.
// Taking the highest run skips TCP's ramp at the start and the drain at the
// end. With too few bins for a run of 3, the median over the bins there are;
// with no full bin, the rate over the whole stream. Bytes per second; 0 with
// fewer than 2 arrivals or no time between them.
double delivery_rate(std::vector<double> arrivals_s, double chunk_bytes, double bin_s, double min_span_s);

}  // namespace strata::topology
