// The mapped-scratch protocol (runtime/device/mapped_scratch.h) run by threads on
// host memory: the same code the CUDA IPC path runs on device memory, here
// checked against the reference collectives for every collective, several
// rank counts, types, in place and out of place, with halves small enough
// that calls take many pieces.
#include "runtime/device/mapped_scratch.h"

#include <gtest/gtest.h>

#include <barrier>
#include <cstring>
#include <thread>

#include "collectives/request.h"
#include "common/error.h"
#include "common/host_reduce.h"
#include "tests/collectives/loopback_harness.h"

namespace strata::runtime {
namespace {

using collectives::Collective;
using collectives::CollectiveRequest;
using testing::Bytes;

class HostMemory final : public ScratchMemory {
 public:
  void copy(void* dst, const void* src, uint64_t bytes) override {
    if (dst != src) std::memcpy(dst, src, bytes);
    ++copies;
  }
  void reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, uint64_t count) override {
    host_reduce(type, op, dst, a, b, count);
  }
  void finish(DataType type, const Finish& finish, void* data, uint64_t count) override {
    host_finish(type, finish, data, count);
  }
  void wait() override {}
  int copies = 0;
};

ScratchCollective scratch_collective_of(Collective collective) {
  switch (collective) {
    case Collective::kAllReduce: return ScratchCollective::kAllReduce;
    case Collective::kReduceScatter: return ScratchCollective::kReduceScatter;
    case Collective::kAllGather: return ScratchCollective::kAllGather;
    case Collective::kBroadcast: return ScratchCollective::kBroadcast;
    case Collective::kReduce: return ScratchCollective::kReduce;
    default: throw std::invalid_argument("not a scratch collective");
  }
}

// Where NCCL puts a rank's send data inside its receive buffer (AllGather)
// or its receive data inside its send buffer (ReduceScatter) in place.
bool output_is_larger(Collective c) { return c == Collective::kAllGather; }
uint64_t in_place_offset(const CollectiveRequest& r, int rank) {
  const bool blockwise = r.collective == Collective::kAllGather || r.collective == Collective::kReduceScatter;
  return blockwise ? rank * r.bytes_per_block() : 0;
}

// Runs `calls` collectives back to back on `request.nranks` threads sharing
// scratch halves of `half_bytes`; returns each rank's receive region after
// the last one (every call has the same inputs, so the same results).
std::vector<Bytes> run_threads(const CollectiveRequest& request, const std::vector<Bytes>& inputs, bool in_place,
                               uint64_t half_bytes, int calls = 1) {
  const int n = request.nranks;
  std::vector<Bytes> scratch(n, Bytes(2 * half_bytes));
  std::vector<std::byte*> base;
  for (Bytes& s : scratch) base.push_back(s.data());
  std::barrier meeting(n);
  std::vector<Bytes> sends(n), recvs(n);
  std::vector<Bytes> outputs(n);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < n; ++rank) {
    threads.emplace_back([&, rank] {
      MappedScratch mapped{rank, n, half_bytes, base, [&] { meeting.arrive_and_wait(); }};
      HostMemory memory;
      const uint64_t recv_bytes = request.recv_buffer_bytes(rank);
      for (int call_index = 0; call_index < calls; ++call_index) {
        sends[rank] = inputs[rank];
        recvs[rank].assign(std::max<uint64_t>(recv_bytes, request.bytes_per_block() * n) + 64, std::byte{0x5a});
        const std::byte* send = sends[rank].data();
        std::byte* recv = recvs[rank].data();
        if (in_place && output_is_larger(request.collective)) {
          std::memcpy(recv + in_place_offset(request, rank), inputs[rank].data(), inputs[rank].size());
          send = recv + in_place_offset(request, rank);
        } else if (in_place) {
          std::memcpy(recv, inputs[rank].data(), inputs[rank].size());
          send = recv;
          recv += in_place_offset(request, rank);
        }
        ScratchCall call{scratch_collective_of(request.collective), send, recv, request.count, request.dtype,
                         request.op, request.finish, request.root};
        run_scratch_collective(mapped, memory, call);
        outputs[rank].assign(recv, recv + recv_bytes);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return outputs;
}

struct Shape {
  Collective collective;
  int nranks;
  uint64_t count;
  DataType type;
  ReduceOp op;
};

std::string check(const Shape& shape, bool in_place, uint64_t half_bytes, Finish finish = {}, int root = 0,
                  int calls = 1) {
  CollectiveRequest request{.collective = shape.collective, .count = shape.count, .dtype = shape.type,
                            .op = shape.op, .finish = finish, .root = root, .nranks = shape.nranks};
  const std::vector<Bytes> inputs = testing::make_inputs(request);
  const std::vector<Bytes> expected = testing::expected_outputs(request, inputs);
  return testing::compare_outputs(request, expected, run_threads(request, inputs, in_place, half_bytes, calls));
}

TEST(MappedScratch, EveryCollectiveMatchesTheReferenceInManyPieces) {
  const Collective collectives[] = {Collective::kAllReduce, Collective::kReduceScatter, Collective::kAllGather,
                                    Collective::kBroadcast, Collective::kReduce};
  for (Collective collective : collectives) {
    for (int nranks : {1, 2, 3, 4, 5}) {
      for (uint64_t count : {uint64_t{1}, uint64_t{7}, uint64_t{1000}}) {
        for (bool in_place : {false, true}) {
          for (uint64_t half : {uint64_t{64}, uint64_t{1} << 20}) {
            const Shape shape{collective, nranks, count, DataType::kFloat32, ReduceOp::kSum};
            const int root = nranks - 1;
            EXPECT_EQ(check(shape, in_place, std::max<uint64_t>(half, 4 * nranks), {}, root), "")
                << collectives::collective_name(collective) << " nranks " << nranks << " count " << count
                << (in_place ? " in place" : "") << " half " << half;
          }
        }
      }
    }
  }
}

TEST(MappedScratch, EveryTypeAndOperator) {
  for (int t = 0; t < kDataTypeCount; ++t) {
    for (int o = 0; o < kReduceOpCount; ++o) {
      const Shape shape{Collective::kAllReduce, 3, 301, static_cast<DataType>(t), static_cast<ReduceOp>(o)};
      EXPECT_EQ(check(shape, false, 96), "") << datatype_name(shape.type) << " " << reduce_op_name(shape.op);
      const Shape scatter{Collective::kReduceScatter, 4, 77, shape.type, shape.op};
      EXPECT_EQ(check(scatter, true, 128), "") << datatype_name(shape.type) << " " << reduce_op_name(shape.op);
    }
  }
}

TEST(MappedScratch, AverageIsAppliedOnceToEachResult) {
  Finish average{.kind = FinishKind::kDivide, .divisor = 4};
  const Shape shape{Collective::kAllReduce, 4, 513, DataType::kFloat64, ReduceOp::kSum};
  EXPECT_EQ(check(shape, false, 256, average), "");
  const Shape reduce{Collective::kReduce, 4, 513, DataType::kInt32, ReduceOp::kSum};
  EXPECT_EQ(check(reduce, true, 256, average, 2), "");
}

TEST(MappedScratch, BackToBackCallsReuseTheHalvesSafely) {
  // 40 calls of 3 pieces each, alternating halves; a rank that ran ahead
  // into a half still being read would corrupt a peer's result.
  for (Collective collective : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter}) {
    const Shape shape{collective, 4, 600, DataType::kInt64, ReduceOp::kSum};
    EXPECT_EQ(check(shape, false, 1600, {}, 0, 40), "") << collectives::collective_name(collective);
  }
}

TEST(MappedScratch, HalfSizeWantedCoversTheCallUpToTheCap) {
  ScratchCall call{.collective = ScratchCollective::kAllReduce, .count = 1000, .type = DataType::kFloat32};
  EXPECT_EQ(scratch_half_bytes_wanted(call, 4, 1 << 20), 4000u);
  EXPECT_EQ(scratch_half_bytes_wanted(call, 4, 1024), 1024u);
  call.collective = ScratchCollective::kReduceScatter;
  EXPECT_EQ(scratch_half_bytes_wanted(call, 4, 1 << 20), 16000u);
  EXPECT_EQ(scratch_half_bytes_wanted(call, 4, 0), 16u);  // the smallest piece: one element per rank
  call.count = 0;
  EXPECT_EQ(scratch_half_bytes_wanted(call, 4, 1 << 20), 16u);
}

TEST(MappedScratch, HalvesTooSmallForOnePieceAreAnError) {
  MappedScratch mapped{0, 4, 8, {nullptr, nullptr, nullptr, nullptr}, [] {}};
  HostMemory memory;
  ScratchCall call{.collective = ScratchCollective::kReduceScatter, .count = 10, .type = DataType::kFloat32};
  EXPECT_THROW(run_scratch_collective(mapped, memory, call), Error);
}

}  // namespace
}  // namespace strata::runtime
