// ScratchSpace (runtime/device/scratch_space.h): ranks as threads, host memory as
// the "exported" scratch. Pins the growth, the mapping of every rank's
// scratch, and that one rank's failure makes every rank refuse together.
#include "runtime/device/scratch_space.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "common/host_reduce.h"

namespace strata::runtime {
namespace {

// Host memory with handles that name it in a table shared by the threads.
struct HostScratchTable {
  std::mutex mutex;
  std::map<uint64_t, std::byte*> by_id;
  uint64_t next_id = 1;
  std::atomic<int> live{0};  // allocations not yet freed
  std::atomic<int> opens{0};
};

class HostExporter final : public ScratchExporter {
 public:
  HostExporter(HostScratchTable& table, bool fail_allocate, bool fail_open)
      : table_(table), fail_allocate_(fail_allocate), fail_open_(fail_open) {}

  std::shared_ptr<void> allocate(uint64_t bytes, std::byte*& data, Handle& handle) override {
    if (fail_allocate_) throw Error(ErrorCode::kCuda, "out of memory (test)");
    auto memory = std::shared_ptr<std::vector<std::byte>>(new std::vector<std::byte>(bytes),
                                                          [this](std::vector<std::byte>* m) {
                                                            --table_.live;
                                                            delete m;
                                                          });
    ++table_.live;
    data = memory->data();
    std::lock_guard lock(table_.mutex);
    const uint64_t id = table_.next_id++;
    table_.by_id[id] = data;
    handle = {};
    std::memcpy(handle.data(), &id, sizeof id);
    return memory;
  }
  std::shared_ptr<void> open(const Handle& handle, std::byte*& data) override {
    if (fail_open_) throw Error(ErrorCode::kCuda, "peer access refused (test)");
    ++table_.opens;
    uint64_t id = 0;
    std::memcpy(&id, handle.data(), sizeof id);
    std::lock_guard lock(table_.mutex);
    data = table_.by_id.at(id);
    return std::make_shared<int>(0);
  }

 private:
  HostScratchTable& table_;
  bool fail_allocate_, fail_open_;
};

// An all-gather and a barrier among threads.
struct ThreadGroup {
  explicit ThreadGroup(int size) : size(size), meeting(size), slots(size) {}
  ScratchGroup member(int rank) {
    return {rank, size,
            [this, rank](const void* mine, void* all, uint64_t bytes) {
              slots[rank].assign(static_cast<const std::byte*>(mine), static_cast<const std::byte*>(mine) + bytes);
              meeting.arrive_and_wait();
              for (int r = 0; r < size; ++r) std::memcpy(static_cast<std::byte*>(all) + r * bytes, slots[r].data(), bytes);
              meeting.arrive_and_wait();
            },
            [this] { meeting.arrive_and_wait(); }};
  }
  int size;
  std::barrier<> meeting;
  std::vector<std::vector<std::byte>> slots;
};

struct Options {
  int size = 3;
  bool one_process = false;  // every rank shares a process token: no open()
  int failing_rank = -1;
  bool fail_open = false;    // the failing rank cannot map (else: cannot allocate)
};

// Runs `body(space, rank)` on every rank; the space outlives the body.
template <typename Body>
void on_ranks(HostScratchTable& table, const Options& options, Body body) {
  ThreadGroup group(options.size);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < options.size; ++rank) {
    threads.emplace_back([&, rank] {
      const bool failing = rank == options.failing_rank;
      HostExporter exporter(table, failing && !options.fail_open, failing && options.fail_open);
      ScratchSpace space(group.member(rank), exporter, options.one_process ? 7 : 100 + rank);
      body(space, rank);
    });
  }
  for (std::thread& t : threads) t.join();
}

TEST(ScratchSpace, GrowsInPowersOfTwoAndMapsEveryRanksScratch) {
  HostScratchTable table;
  std::vector<std::vector<std::byte*>> bases(3);
  on_ranks(table, {}, [&](ScratchSpace& space, int rank) {
    ASSERT_TRUE(space.ensure(1000));
    EXPECT_EQ(space.mapped().half_bytes, ScratchSpace::kMinHalf);
    ASSERT_TRUE(space.ensure(3 << 20));
    EXPECT_EQ(space.mapped().half_bytes, uint64_t{4} << 20);
    ASSERT_TRUE(space.ensure(1 << 20));  // already large enough: no change
    EXPECT_EQ(space.mapped().half_bytes, uint64_t{4} << 20);
    bases[rank] = space.mapped().base;
    space.mapped().barrier();
    EXPECT_EQ(table.live.load(), 3);  // the first scratch of every rank is freed
    space.mapped().barrier();         // before any rank frees the second
  });
  for (int rank = 0; rank < 3; ++rank) {
    for (int owner = 0; owner < 3; ++owner) EXPECT_EQ(bases[rank][owner], bases[owner][owner]);
  }
  EXPECT_EQ(table.opens.load(), 2 * 3 * 2);  // two growths, each rank opens its two peers
  EXPECT_EQ(table.live.load(), 0);
}

TEST(ScratchSpace, PeersInTheSameProcessAreNotOpened) {
  HostScratchTable table;
  on_ranks(table, {.one_process = true}, [&](ScratchSpace& space, int) { EXPECT_TRUE(space.ensure(1)); });
  EXPECT_EQ(table.opens.load(), 0);
}

TEST(ScratchSpace, OneRankThatCannotAllocateOrMapMakesEveryRankRefuseForGood) {
  for (bool fail_open : {false, true}) {
    HostScratchTable table;
    std::atomic<int> refused{0};
    on_ranks(table, {.size = 4, .failing_rank = 2, .fail_open = fail_open}, [&](ScratchSpace& space, int) {
      EXPECT_FALSE(space.ensure(100));
      EXPECT_TRUE(space.refused());
      EXPECT_FALSE(space.ensure(100));  // no group operation: a rank alone may ask again
      EXPECT_TRUE(space.mapped().base.empty());
      refused += space.refused() ? 1 : 0;
    });
    EXPECT_EQ(refused.load(), 4) << (fail_open ? "open" : "allocate");
    EXPECT_EQ(table.live.load(), 0);
  }
}

TEST(ScratchSpace, CollectivesRunOnTheMappedScratch) {
  class HostMemory final : public ScratchMemory {
   public:
    void copy(void* dst, const void* src, uint64_t bytes) override { std::memmove(dst, src, bytes); }
    void reduce(DataType t, ReduceOp op, void* dst, const void* a, const void* b, uint64_t n) override {
      host_reduce(t, op, dst, a, b, n);
    }
    void finish(DataType t, const Finish& f, void* data, uint64_t n) override { host_finish(t, f, data, n); }
    void wait() override {}
  };
  HostScratchTable table;
  const uint64_t count = (uint64_t{3} << 20) / sizeof(int64_t);  // 3 MiB: two pieces of a 2 MiB half
  on_ranks(table, {}, [&](ScratchSpace& space, int rank) {
    std::vector<int64_t> data(count);
    for (uint64_t i = 0; i < count; ++i) data[i] = static_cast<int64_t>(i) * (rank + 1);
    ScratchCall call{.send = data.data(), .recv = data.data(), .count = count, .type = DataType::kInt64};
    ASSERT_TRUE(space.ensure(scratch_half_bytes_wanted(call, 3, uint64_t{2} << 20)));
    HostMemory memory;
    run_scratch_collective(space.mapped(), memory, call);
    for (uint64_t i = 0; i < count; i += 4099) ASSERT_EQ(data[i], static_cast<int64_t>(i) * 6) << i;
  });
}

}  // namespace
}  // namespace strata::runtime
