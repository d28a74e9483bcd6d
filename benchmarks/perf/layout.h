// What one sweep point of one collective looks like: the request, where the
// input and output sit in the harness's two buffers (out-of-place and in-place,
// as nccl-tests lays them out), how nccl-tests counts its size and bus
// bandwidth, and which elements of which ranks' inputs make up each output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "benchmarks/perf/options.h"
#include "collectives/request.h"

namespace strata::perf {

using collectives::Collective;
using collectives::CollectiveRequest;

bool collective_reduces(Collective collective);
bool collective_rooted(Collective collective);
bool collective_has_in_place(Collective collective);

// The request for a point of the sweep that is `bytes` large (nccl-tests'
// meaning, see reported_bytes), or nullopt when that leaves no element per rank.
std::optional<CollectiveRequest> request_for(Collective collective, uint64_t bytes, DataType type, OpChoice op,
                                             int root, int nranks);

// The "size" column: bytes of the full buffer as nccl-tests counts them.
uint64_t reported_bytes(const CollectiveRequest& request);

// busbw / algbw, from nccl-tests' doc/PERFORMANCE.md: a rank with link
// bandwidth B needs at least S*f/B seconds, so busbw = algbw*f is comparable
// with B whatever the rank count. AllReduce moves every element in and out of
// each rank once but for one: f = 2(n-1)/n. ReduceScatter, AllGather and
// AlltoAll are half of that, (n-1)/n, with S the full array. Broadcast and
// Reduce are limited by the root's one link: f = 1. Gather and Scatter, like
// AllGather/ReduceScatter on the root's link, (n-1)/n (nccl-tests gather.cu,
// scatter.cu). A ring shift moves S over every link once: f = 1.
double bus_factor(Collective collective, int nranks);

// Elements this rank's input and output hold (output 0: not checked here).
uint64_t input_count(const CollectiveRequest& request);
uint64_t output_count(const CollectiveRequest& request, int rank);

struct Placement {
  std::byte* send;
  std::byte* recv;
};

// Out-of-place: input at the start of `send_buffer`, output at the start of
// `recv_buffer`. In-place: both inside `recv_buffer` at NCCL's offsets
// (AllGather/Gather input at rank*block of the output; ReduceScatter/Scatter
// output at rank*block of the input; the others share the buffer).
Placement place(const CollectiveRequest& request, int rank, std::byte* send_buffer, std::byte* recv_buffer,
                bool in_place);

// A run of this rank's expected output: output[dst + k] is input element
// first + k of rank `source`, or the reduction of that element over every
// rank when source is kAllRanks.
struct Segment {
  uint64_t dst;
  int source;
  uint64_t first;
  uint64_t count;
};
inline constexpr int kAllRanks = -1;

std::vector<Segment> expected_segments(const CollectiveRequest& request, int rank);

}  // namespace strata::perf
