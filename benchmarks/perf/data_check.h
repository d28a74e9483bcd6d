// Inputs and independent references for `-c 1`.
//
// Every rank's input is a pure function of (rank, element index, seed), so a
// rank can regenerate any other rank's input locally and compute what its own
// output must be without trusting any Strata algorithm: data movement is a
// copy of generated values, a reduction is common/host_reduce applied in rank
// order. Values are small integers chosen so that the reduction is exact in
// every integer type (wrapping is modular, hence order-free) and in float and
// double; for half, bfloat16 and FP8 the result depends on the order of
// rounding, so those compare with a tolerance (see data_check.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "collectives/request.h"
#include "compression/codec.h"

namespace strata::perf {

// Writes `rank`'s input, `seed` variant, to `input` (input_count elements).
void fill_input(const collectives::CollectiveRequest& request, int rank, uint64_t seed, std::byte* input);

// Overwrites an output so that a call that writes nothing cannot pass.
void poison(std::byte* data, uint64_t bytes);

// Elements of this rank's `output` that differ from the reference.
// `float_tolerance`: float32 results within this absolute error count as right
// (a lossy inter-site wire format; see lossy_tolerance).
uint64_t count_wrong(const collectives::CollectiveRequest& request, int rank, uint64_t seed,
                     const std::byte* output, double float_tolerance = 0);

// What a float32 sum may be off by when its inter-site leg is encoded in
// `format`: one encoding per site's partial sum and one of the result, each
// within its format's bound of the largest partial sum (|input| <= 2 here).
double lossy_tolerance(const collectives::CollectiveRequest& request, compression::Format format);

}  // namespace strata::perf
