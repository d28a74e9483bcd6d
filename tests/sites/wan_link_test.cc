// Unit tests of the WAN link model (no root, no network): rate, queue,
// delay, jitter ordering, loss, lateness bookkeeping and live changes.
#include "wan_link.h"

#include <gtest/gtest.h>

namespace strata::sites {
namespace {

constexpr int64_t kMs = 1'000'000;

LinkParams params(int64_t delay_ns, uint64_t rate_bps) {
  LinkParams p;
  p.delay_ns = delay_ns;
  p.rate_bps = rate_bps;
  return p;
}

TEST(WanLink, SerializesBackToBackPacketsAtTheRate) {
  WanLink link(params(10 * kMs, 8'000'000), 1);  // 8 Mbit/s: 1 byte per us
  for (int k = 1; k <= 10; ++k) {
    Admission a = link.admit(1000, 0);
    ASSERT_EQ(a.verdict, Admission::Verdict::kAccept);
    EXPECT_EQ(a.due_ns, k * kMs + 10 * kMs);
  }
  EXPECT_EQ(link.backlog_bytes(0), 10'000u);
  EXPECT_EQ(link.backlog_bytes(5 * kMs), 5'000u);
}

TEST(WanLink, IdleLinkOnlyAddsSerializationAndDelay) {
  WanLink link(params(5 * kMs, 8'000'000), 1);
  EXPECT_EQ(link.admit(1000, 0).due_ns, 6 * kMs);
  EXPECT_EQ(link.admit(1000, 100 * kMs).due_ns, 106 * kMs);
}

TEST(WanLink, DropsWhenTheQueueIsFull) {
  LinkParams p = params(0, 8'000'000);
  p.queue_bytes = 3000;
  WanLink link(p, 1);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(link.admit(1000, 0).verdict, Admission::Verdict::kAccept);
  }
  EXPECT_EQ(link.admit(1000, 0).verdict, Admission::Verdict::kDropQueue);
  EXPECT_EQ(link.counters().drop_queue_pkts, 1u);
  EXPECT_EQ(link.counters().backlog_max_bytes, 3000u);
  // Draining one packet's worth makes room again.
  EXPECT_EQ(link.admit(1000, 1 * kMs).verdict, Admission::Verdict::kAccept);
}

TEST(WanLink, CarriesTheRemainderSoTheRateIsExact) {
  WanLink link(params(0, 7'000'000'000), 1);  // 41 B = 46.857 ns each
  int64_t due = 0;
  for (int k = 0; k < 1000; ++k) due = link.admit(41, 0).due_ns;
  EXPECT_EQ(due, 46'857);  // floor(1000 * 41 * 8 / 7), not 1000 * 46
}

TEST(WanLink, JitterKeepsFifoOrderUnlessReorderIsAllowed) {
  for (bool reorder : {false, true}) {
    LinkParams p = params(10 * kMs, 0);
    p.jitter_ns = 5 * kMs;
    p.reorder = reorder;
    WanLink link(p, 42);
    int64_t last = 0, inversions = 0, min_due = INT64_MAX, max_due = 0;
    for (int k = 0; k < 1000; ++k) {
      int64_t now = k * 10'000;
      int64_t due = link.admit(100, now).due_ns;
      inversions += due < last;
      last = std::max(last, due);
      min_due = std::min(min_due, due - now);
      max_due = std::max(max_due, due - now);
    }
    EXPECT_EQ(inversions > 0, reorder);
    EXPECT_GE(min_due, 5 * kMs);
    EXPECT_LE(max_due, 15 * kMs + 10 * kMs);  // FIFO clamp may add a little
  }
}

TEST(WanLink, LosesTheConfiguredFraction) {
  LinkParams p = params(0, 0);
  p.loss = 0.2;
  WanLink link(p, 7);
  for (int k = 0; k < 20000; ++k) link.admit(100, k);
  double lost = double(link.counters().drop_loss_pkts) / 20000;
  EXPECT_NEAR(lost, 0.2, 0.01);
  EXPECT_EQ(link.counters().rx_pkts, 20000u);
}

TEST(WanLink, CountsLateDeliveries) {
  WanLink link(params(10 * kMs, 0), 1);
  Admission a = link.admit(500, 0);
  link.record_delivery(500, 0, a.due_ns, a.due_ns + 2 * kMs, true, kMs);
  EXPECT_EQ(link.counters().late_pkts, 1u);
  EXPECT_EQ(link.counters().late_max_ns, 2 * kMs);
  EXPECT_EQ(link.take_window_late_max_ns(), 2 * kMs);
  EXPECT_EQ(link.take_window_late_max_ns(), 0);
  EXPECT_EQ(link.counters().tx_bytes, 500u);
  EXPECT_EQ(link.counters().inflight_pkts, 0u);
  EXPECT_DOUBLE_EQ(link.counters().sojourn_ns.mean(), double(12 * kMs));
}

TEST(WanLink, FailedWriteIsADropNotADelivery) {
  WanLink link(params(0, 0), 1);
  Admission a = link.admit(500, 0);
  link.record_delivery(500, 0, a.due_ns, 0, false, kMs);
  EXPECT_EQ(link.counters().drop_write_pkts, 1u);
  EXPECT_EQ(link.counters().tx_pkts, 0u);
}

TEST(WanLink, RateChangeAppliesToPacketsAdmittedAfterIt) {
  WanLink link(params(10 * kMs, 8'000'000), 1);  // 1 byte per us
  EXPECT_EQ(link.admit(1000, 0).due_ns, 11 * kMs);
  EXPECT_EQ(link.admit(1000, 0).due_ns, 12 * kMs);
  EXPECT_TRUE(link.set_params(params(10 * kMs, 4'000'000), 0));
  // Queued behind the wire's 2 ms, then 2 ms per packet at half the rate.
  EXPECT_EQ(link.admit(1000, 0).due_ns, 14 * kMs);
  EXPECT_EQ(link.admit(1000, 20 * kMs).due_ns, 32 * kMs);
}

TEST(WanLink, BacklogCountsBytesQueuedBeforeARateChangeExactly) {
  WanLink link(params(0, 8'000'000), 1);
  for (int k = 0; k < 4; ++k) link.admit(1000, 0);  // wire busy until 4 ms
  link.set_params(params(0, 2'000'000), kMs);       // 1 byte per 4 us
  EXPECT_EQ(link.backlog_bytes(kMs), 3000u);
  link.admit(1000, kMs);                            // wire busy until 8 ms
  EXPECT_EQ(link.backlog_bytes(2 * kMs), 3000u);    // 2000 old + 1000 new
  EXPECT_EQ(link.backlog_bytes(6 * kMs), 500u);
  EXPECT_EQ(link.backlog_bytes(8 * kMs), 0u);
}

TEST(WanLink, DelayAndLossChangesKeepFifoOrder) {
  WanLink link(params(20 * kMs, 0), 1);
  int64_t before = link.admit(100, 0).due_ns;
  LinkParams shorter = params(5 * kMs, 0);
  shorter.loss = 1.0;
  EXPECT_TRUE(link.set_params(shorter, kMs));
  EXPECT_FALSE(link.set_params(shorter, kMs));
  EXPECT_EQ(link.admit(100, kMs).verdict, Admission::Verdict::kDropLoss);
  shorter.loss = 0;
  link.set_params(shorter, kMs);
  EXPECT_EQ(link.admit(100, kMs).due_ns, before);  // not before the first
  EXPECT_EQ(link.admit(100, 30 * kMs).due_ns, 35 * kMs);
  EXPECT_EQ(link.params().delay_ns, 5 * kMs);
}

}  // namespace
}  // namespace strata::sites
