// Turning raw probe timings into link figures. Pure functions, so the rules
// are unit-tested on synthetic timings (tests/topology/link_estimates_test.cc).
#pragma once

#include <cstddef>
#include <vector>

namespace strata::topology {

// The middle value (upper middle for an even count); 0 for none.
double median(std::vector<double> values);

// Bandwidth from the arrival times (seconds, any order) of equal chunks of a
// stream. TCP opens its window over the first round trips, so the average
// over the whole stream says more about the ramp than about the link. This
// returns the highest rate over any run of consecutive arrivals that spans at
// least `min_span_s` (so one burst or one batch of completions seen at once
// cannot pose as the rate) and at least `min_chunks` chunks; with no such run,
// the rate over the whole stream. Bytes per second; 0 with fewer than 2
// arrivals or no time between them.
double steady_rate(std::vector<double> arrivals_s, double chunk_bytes, double min_span_s, size_t min_chunks = 4);

}  // namespace strata::topology
