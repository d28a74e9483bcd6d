// The communicator API end to end on in-process ranks: plain calls from one
// thread per rank, groups from a single thread, point-to-point, split.
#include <gtest/gtest.h>

#include <numeric>

#include "runtime/communicator/communicator.h"
#include "tests/runtime/local_ranks.h"

namespace strata::runtime {
namespace {

using testing::on_every_rank;

TEST(CommunicatorLocalTest, AllReduceFromOneThreadPerRank) {
  auto comms = Communicator::create_local(4);
  on_every_rank(comms, [](Communicator& comm) {
    std::vector<float> data(1000, static_cast<float>(comm.rank() + 1));
    comm.all_reduce(data.data(), data.data(), data.size(), DataType::kFloat32, ReduceOp::kSum);
    EXPECT_EQ(data.front(), 10.0f);
    EXPECT_EQ(data.back(), 10.0f);
  });
}

TEST(CommunicatorLocalTest, GroupDrivesEveryRankFromOneThread) {
  const int n = 3;
  auto comms = Communicator::create_local(n);
  std::vector<std::vector<int32_t>> data(n);
  group_start();
  for (int rank = 0; rank < n; ++rank) {
    data[rank].assign(17, rank);
    comms[rank]->all_reduce(data[rank].data(), data[rank].data(), 17, DataType::kInt32, ReduceOp::kMax);
  }
  EXPECT_EQ(data[0][0], 0);  // nothing ran before the group ended
  group_end();
  for (int rank = 0; rank < n; ++rank) EXPECT_EQ(data[rank], std::vector<int32_t>(17, n - 1));
}

TEST(CommunicatorLocalTest, SendRecvRingInAGroupDoesNotDeadlock) {
  const int n = 5;
  auto comms = Communicator::create_local(n);
  on_every_rank(comms, [&](Communicator& comm) {
    const int right = (comm.rank() + 1) % n, left = (comm.rank() + n - 1) % n;
    std::vector<int64_t> out(1 << 16, comm.rank()), in(1 << 16, -1);
    group_start();
    comm.send(out.data(), out.size(), DataType::kInt64, right);
    comm.recv(in.data(), in.size(), DataType::kInt64, left);
    group_end();
    EXPECT_EQ(in, std::vector<int64_t>(1 << 16, left));
  });
}

TEST(CommunicatorLocalTest, RepeatedPointToPointToTheSamePeerMatchInOrder) {
  auto comms = Communicator::create_local(2);
  on_every_rank(comms, [&](Communicator& comm) {
    const int peer = 1 - comm.rank();
    std::vector<int32_t> first(8, 10 + comm.rank()), second(8, 20 + comm.rank()), got1(8), got2(8);
    group_start();
    comm.send(first.data(), 8, DataType::kInt32, peer);
    comm.send(second.data(), 8, DataType::kInt32, peer);
    comm.recv(got1.data(), 8, DataType::kInt32, peer);
    comm.recv(got2.data(), 8, DataType::kInt32, peer);
    group_end();
    EXPECT_EQ(got1, std::vector<int32_t>(8, 10 + peer));
    EXPECT_EQ(got2, std::vector<int32_t>(8, 20 + peer));
  });
}

TEST(CommunicatorLocalTest, SplitByParityOrdersByKey) {
  const int n = 6;
  auto comms = Communicator::create_local(n);
  on_every_rank(comms, [&](Communicator& comm) {
    const int color = comm.rank() % 2;
    auto child = comm.split(color, /*key=*/-comm.rank());
    ASSERT_TRUE(child);
    EXPECT_EQ(child->size(), 3);
    // Keys are negated ranks, so the highest parent rank comes first.
    EXPECT_EQ(child->rank(), (n - 1 - comm.rank()) / 2);
    int32_t value = comm.rank(), sum = 0;
    child->all_reduce(&value, &sum, 1, DataType::kInt32, ReduceOp::kSum);
    EXPECT_EQ(sum, color == 0 ? 0 + 2 + 4 : 1 + 3 + 5);
    // The parent still works after the child was used.
    comm.all_reduce(&value, &sum, 1, DataType::kInt32, ReduceOp::kSum);
    EXPECT_EQ(sum, 15);
  });
}

TEST(CommunicatorLocalTest, NoColorGetsNoCommunicator) {
  auto comms = Communicator::create_local(3);
  on_every_rank(comms, [&](Communicator& comm) {
    auto child = comm.split(comm.rank() == 0 ? -1 : 7, 0);
    EXPECT_EQ(child == nullptr, comm.rank() == 0);
    if (child) EXPECT_EQ(child->size(), 2);
  });
}

TEST(CommunicatorLocalTest, AverageAndPreMultipliedSum) {
  auto comms = Communicator::create_local(4);
  on_every_rank(comms, [&](Communicator& comm) {
    std::vector<double> data(5, comm.rank());
    comm.all_reduce(data.data(), data.data(), 5, DataType::kFloat64, ReduceOp::kSum,
                    Finish{FinishKind::kDivide, 4});
    EXPECT_EQ(data[0], 1.5);
    Finish times_two{FinishKind::kMultiply};
    const double two = 2;
    std::memcpy(times_two.scalar, &two, sizeof two);
    std::vector<double> sums(5, 1.0);
    comm.all_reduce(sums.data(), sums.data(), 5, DataType::kFloat64, ReduceOp::kSum, times_two);
    EXPECT_EQ(sums[4], 8.0);
  });
}

TEST(CommunicatorLocalTest, EveryCollectiveThroughTheApi) {
  const int n = 3;
  auto comms = Communicator::create_local(n);
  on_every_rank(comms, [&](Communicator& comm) {
    const int r = comm.rank();
    std::vector<int32_t> mine(4, r), all(4 * n, -1), block(4, -1);
    comm.all_gather(mine.data(), all.data(), 4, DataType::kInt32);
    EXPECT_EQ(all[4 * 2], 2);
    std::vector<int32_t> everyone(4 * n, 1);
    comm.reduce_scatter(everyone.data(), block.data(), 4, DataType::kInt32, ReduceOp::kSum);
    EXPECT_EQ(block, std::vector<int32_t>(4, n));
    std::vector<int32_t> to_each(n);
    std::iota(to_each.begin(), to_each.end(), 10 * r);
    std::vector<int32_t> from_each(n, -1);
    comm.all_to_all(to_each.data(), from_each.data(), 1, DataType::kInt32);
    for (int j = 0; j < n; ++j) EXPECT_EQ(from_each[j], 10 * j + r);
    std::vector<int32_t> root_data(n, 0);
    if (r == 1) std::iota(root_data.begin(), root_data.end(), 100);
    int32_t piece = -1;
    comm.scatter(root_data.data(), &piece, 1, DataType::kInt32, 1);
    EXPECT_EQ(piece, 100 + r);
    std::vector<int32_t> gathered(n, -1);
    comm.gather(&piece, r == 2 ? gathered.data() : nullptr, 1, DataType::kInt32, 2);
    if (r == 2) EXPECT_EQ(gathered, (std::vector<int32_t>{100, 101, 102}));
    int32_t value = r == 0 ? 42 : 0;
    comm.broadcast(&value, &value, 1, DataType::kInt32, 0);
    EXPECT_EQ(value, 42);
    int32_t total = -1;
    comm.reduce(&r, r == 0 ? &total : nullptr, 1, DataType::kInt32, ReduceOp::kSum, 0);
    if (r == 0) EXPECT_EQ(total, 3);
    comm.barrier();
  });
}

}  // namespace
}  // namespace strata::runtime

namespace strata::runtime {
namespace {

TEST(CommunicatorLocalTest, SendToSelfInAGroup) {
  auto comms = Communicator::create_local(1);
  std::vector<int32_t> out(100, 7), in(100, 0);
  group_start();
  comms[0]->send(out.data(), out.size(), DataType::kInt32, 0);
  comms[0]->recv(in.data(), in.size(), DataType::kInt32, 0);
  group_end();
  EXPECT_EQ(in, out);
}

}  // namespace
}  // namespace strata::runtime
