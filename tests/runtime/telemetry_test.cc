// Telemetry: which link each peer's transfers count on, busy time as the
// union of in-flight intervals, the Prometheus text, and counting through
// the executor on in-process communicators.
#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>
#include <vector>

#include "runtime/communicator/communicator.h"
#include "runtime/config/config.h"
#include "runtime/telemetry/metrics.h"
#include "runtime/telemetry/metrics_server.h"
#include "runtime/telemetry/trace.h"
#include "tests/runtime/local_ranks.h"

namespace strata::runtime::telemetry {
namespace {

// Ranks 0, 1 on site 0 (separate nodes), 2, 3 on site 1; seen from rank 0.
std::unique_ptr<CommMetrics> two_sites(int lanes = 2) {
  collectives::Network network = collectives::Network::with_sites({0, 0, 1, 1}, {.latency_s = 0.01, .bandwidth_bytes_per_s = 1.25e8});
  return std::make_unique<CommMetrics>("test", 7, 0, 4, network, lanes, nullptr);
}

TEST(Telemetry, PeersCountOnTheirLinkAndWanLanesAlsoOnTheWholeLink) {
  const auto owned = two_sites();
  CommMetrics& metrics = *owned;
  const uint32_t site = metrics.link_index(1, 0), wan_lane1 = metrics.link_index(2, 1);
  EXPECT_EQ(metrics.links()[site].kind, LinkKind::kIntraSite);
  EXPECT_EQ(metrics.links()[metrics.link_index(0, 0)].kind, LinkKind::kIntraNode);
  ASSERT_EQ(metrics.links()[wan_lane1].kind, LinkKind::kWan);
  EXPECT_EQ(metrics.links()[wan_lane1].lane, 1);
  EXPECT_EQ(metrics.links()[wan_lane1].peer_site, 1);
  EXPECT_EQ(metrics.link_index(3, 1), wan_lane1);  // same site, same lane
  EXPECT_EQ(metrics.links()[metrics.link_index(2, 9)].lane, 1);  // clamped to the lanes there are
  metrics.transfer_started(wan_lane1, kSend, 0);
  metrics.transfer_ended(wan_lane1, kSend, 1000, 0, 50);
  metrics.transfer_started(site, kReceive, 0);
  metrics.transfer_ended(site, kReceive, 24, 0, 10);
  EXPECT_EQ(metrics.bytes(LinkKind::kWan, kSend), 1000u);  // the whole link, once
  EXPECT_EQ(metrics.bytes(LinkKind::kIntraSite, kReceive), 24u);
  EXPECT_EQ(metrics.bytes(LinkKind::kWan, kReceive), 0u);
  EXPECT_EQ(metrics.links()[wan_lane1].bytes[kSend].get(), 1000u);
  EXPECT_EQ(metrics.links()[wan_lane1 - 2].bytes[kSend].get(), 1000u);  // lane 1 follows the whole link and lane 0
}

TEST(Telemetry, BusyTimeIsTheUnionOfOverlappingTransfers) {
  const auto owned = two_sites();
  CommMetrics& metrics = *owned;
  const uint32_t lane0 = metrics.link_index(2, 0), lane1 = metrics.link_index(2, 1);
  const uint32_t whole = lane0 - 1;
  metrics.transfer_started(lane0, kSend, 100);
  metrics.transfer_started(lane1, kSend, 150);
  metrics.transfer_ended(lane0, kSend, 10, 100, 200);
  metrics.transfer_ended(lane1, kSend, 10, 150, 400);
  metrics.transfer_started(lane0, kSend, 1000);  // idle 400..1000 is not busy
  metrics.transfer_ended(lane0, kSend, 10, 1000, 1100);
  EXPECT_EQ(metrics.links()[whole].busy_ns[kSend].get(), 400u);
  EXPECT_EQ(metrics.links()[lane0].busy_ns[kSend].get(), 200u);
  EXPECT_EQ(metrics.links()[lane1].busy_ns[kSend].get(), 250u);
  EXPECT_EQ(metrics.links()[whole].messages[kSend].get(), 3u);
}

TEST(Telemetry, FailedAndCancelledTransfersLeaveTheLinkIdle) {
  const auto owned = two_sites();
  CommMetrics& metrics = *owned;
  const uint32_t lane0 = metrics.link_index(3, 0);
  metrics.transfer_started(lane0, kReceive, 0);
  metrics.transfer_started(lane0, kReceive, 0);
  metrics.transfer_failed(lane0, kReceive, 30);
  metrics.transfer_cancelled(lane0, kReceive, 40);
  EXPECT_EQ(metrics.links()[lane0 - 1].errors.get(), 1u);
  EXPECT_EQ(metrics.links()[lane0 - 1].messages[kReceive].get(), 0u);
  EXPECT_EQ(metrics.links()[lane0 - 1].busy_ns[kReceive].get(), 40u);
  EXPECT_EQ(metrics.links()[lane0 - 1].in_flight[kReceive], 0u);
}

TEST(Telemetry, PrometheusTextHasFamiliesLinksAndAHistogram) {
  auto metrics = two_sites();
  metrics->transfer_started(metrics->link_index(2, 0), kSend, 0);
  metrics->transfer_ended(metrics->link_index(2, 0), kSend, 4096, 0, 2'000'000'000);
  metrics->collective_ended("allreduce", "hier", 1 << 20, 0, 3'000'000, true);   // 3 ms
  metrics->collective_ended("allreduce", "hier", 1 << 20, 0, 30'000'000, false);  // 30 ms, failed
  const std::string text = prometheus_text();
  EXPECT_NE(text.find("# TYPE strata_link_bytes_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE strata_collective_seconds histogram"), std::string::npos);
  const std::string wan = "comm=\"test\",comm_id=\"7\",rank=\"0\",link=\"wan\",peer_site=\"1\"";
  EXPECT_NE(text.find("strata_link_bytes_total{" + wan + ",lane=\"all\",direction=\"send\"} 4096\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("strata_link_busy_seconds_total{" + wan + ",lane=\"0\",direction=\"send\"} 2\n"), std::string::npos);
  EXPECT_EQ(text.find(wan + ",lane=\"1\""), std::string::npos);  // a lane that carried nothing has no series
  EXPECT_NE(text.find("strata_link_model_bytes_per_second{" + wan + ",lane=\"all\"} 125000000\n"), std::string::npos);
  const std::string call = "comm=\"test\",comm_id=\"7\",rank=\"0\",collective=\"allreduce\",algorithm=\"hier\"";
  EXPECT_NE(text.find("strata_collective_calls_total{" + call + "} 2\n"), std::string::npos);
  EXPECT_NE(text.find("strata_collective_failures_total{" + call + "} 1\n"), std::string::npos);
  EXPECT_NE(text.find("strata_collective_seconds_bucket{" + call + ",le=\"0.0025\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("strata_collective_seconds_bucket{" + call + ",le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("strata_collective_seconds_bucket{" + call + ",le=\"0.05\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("strata_collective_seconds_bucket{" + call + ",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("strata_collective_seconds_count{" + call + "} 2\n"), std::string::npos);
  metrics.reset();
  EXPECT_EQ(prometheus_text().find("comm_id=\"7\""), std::string::npos);  // gone with its communicator
}

TEST(Telemetry, TracePathNamesTheRank) {
  EXPECT_EQ(trace_path_for("run.json", 3), "run.rank3.json");
  EXPECT_EQ(trace_path_for("/tmp/t-%r.json", 12), "/tmp/t-12.json");
  EXPECT_EQ(trace_path_for("trace", 0), "trace.rank0.json");
}

// Through the executor: every byte sent by one rank is received by another,
// and each rank counts its call once.
TEST(Telemetry, CommunicatorsCountTheirTransfersAndCalls) {
  setenv("STRATA_METRICS", "1", 1);
  reload_config();
  auto comms = Communicator::create_local(4, {.name = "telemetry-local"});
  unsetenv("STRATA_METRICS");
  reload_config();
  const uint64_t count = 1 << 16;
  testing::on_every_rank(comms, [&](Communicator& comm) {
    std::vector<float> data(count, 1.0f);
    comm.all_reduce(data.data(), data.data(), count, DataType::kFloat32, ReduceOp::kSum);
    comm.all_reduce(data.data(), data.data(), count, DataType::kFloat32, ReduceOp::kSum);
  });
  uint64_t sent = 0, received = 0;
  for_each_comm([&](const CommMetrics& metrics) {
    if (metrics.labels().find("telemetry-local") == std::string::npos) return;
    sent += metrics.bytes(LinkKind::kIntraNode, kSend);
    received += metrics.bytes(LinkKind::kIntraNode, kReceive);
    const auto calls = metrics.collectives();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].collective, "allreduce");
    EXPECT_EQ(calls[0].calls, 2u);
    EXPECT_EQ(calls[0].bytes, 2 * count * sizeof(float));
  });
  // A ring AllReduce moves 2 (n-1)/n of the buffer out of each rank, per call.
  EXPECT_EQ(sent, received);
  EXPECT_GE(sent, 2 * 4 * (2 * 3 * count * sizeof(float) / 4));
}

}  // namespace
}  // namespace strata::runtime::telemetry
