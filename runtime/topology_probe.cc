#include "runtime/topology_probe.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include "common/error.h"
#include "common/log.h"
#include "runtime/bootstrap/bootstrap.h"
#include "runtime/config/config.h"
#include "runtime/transport/transport.h"
#include "runtime/wire_tag.h"
#include "topology/site_assignment.h"

namespace strata::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using topology::LinkDistance;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Probe messages never share a tag with communicator traffic: communicator
// ids come from a 12-bit hash, and probing ends before the first operation.
constexpr uint32_t kProbeCommId = 0xfff;
enum MessageIndex : uint32_t { kControl = 0, kBulk = 1, kAck = 2, kCredit = 3 };
enum Command : uint64_t { kPing = 1, kStop = 2, kStopThenBulk = 3 };

// Bandwidth: a stream of kChunkBytes messages with at most kWindow not yet
// credited by the receiver (a send completes once the bytes are in the
// socket buffer, so only the receiver's credits bound what is in flight).
// The window caps what one link can show at kWindow MiB per RTT (8 MiB /
// 50 ms = 1.3 Gbit/s); the receiver times the second half of the stream,
// after TCP's ramp-up.
constexpr size_t kChunkBytes = size_t{1} << 20;
constexpr int kWindow = 8;
constexpr int kFirstWindow = 6;

uint64_t probe_tag(int sender, MessageIndex index) {
  return WireTag{.comm_id = kProbeCommId, .point_to_point = true, .sequence = 0x1fff}.for_message(sender, index);
}

bool finished(const Completion& completion, int peer) {
  const uint8_t state = completion.state.load(std::memory_order_acquire);
  if (state == Completion::kFailed)
    fail(ErrorCode::kRemote, {-1, peer, "link probe"}, "probe transfer failed: {}", completion.error);
  return state == Completion::kDone;
}

void reset(Completion& completion) { completion.state.store(Completion::kPending, std::memory_order_relaxed); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Chunks per second over the second half of the arrivals (after ramp-up).
double steady_bandwidth(std::vector<double> arrivals_s) {
  std::sort(arrivals_s.begin(), arrivals_s.end());
  const size_t n = arrivals_s.size();
  if (n < 3) return 0;
  const size_t first = n >= 6 ? n / 2 : 0;
  const double span = arrivals_s[n - 1] - arrivals_s[first];
  return span > 0 ? static_cast<double>((n - 1 - first) * kChunkBytes) / span : 0;
}

// One link as seen from one end. The lower rank of a pair drives it
// (pinger); the higher one answers (responder).
class LinkProbe {
 public:
  LinkProbe(Transport& transport, int peer, const topology::ProbeOptions& options, Clock::time_point start)
      : transport_(transport), me_(transport.rank()), peer_(peer), pinger_(me_ < peer), options_(options),
        start_(start) {
    send_.state = Completion::kDone;
    credit_.state = Completion::kDone;
    for (Completion& slot : slots_) slot.state = Completion::kDone;
    if (pinger_) ping();
    else post_control_recv();
  }

  bool done() const { return done_; }
  const LinkDistance& result() const { return result_; }
  bool sends_finished() {
    if (!finished(send_, peer_) || !finished(credit_, peer_)) return false;
    for (Completion& slot : slots_)
      if (!finished(slot, peer_)) return false;
    return true;
  }

  // Moves this link's protocol on by whatever has completed.
  void step() {
    if (done_) return;
    if (bulk_) return pinger_ ? pinger_bulk() : responder_bulk();
    if (!finished(recv_, peer_) || !finished(send_, peer_)) return;
    pinger_ ? pinger_round_trip() : responder_control();
  }

 private:
  void post_send(MessageIndex index, const void* data, size_t bytes, Completion& completion) {
    reset(completion);
    transport_.post_send(peer_, probe_tag(me_, index), data, bytes, &completion);
  }
  void post_recv(MessageIndex index, void* data, size_t bytes, Completion& completion) {
    reset(completion);
    transport_.post_recv(peer_, probe_tag(peer_, index), data, bytes, &completion);
  }
  void post_control_recv() { post_recv(kControl, &in_, sizeof in_, recv_); }
  void send_control(uint64_t command) {
    out_ = command;
    post_send(kControl, &out_, sizeof out_, send_);
  }
  void ping() {
    post_control_recv();
    sent_at_ = Clock::now();
    send_control(kPing);
  }

  // Pinger: a pong arrived. The first round trip may include connection
  // setup, so it is not counted. RTT sampling stops at 25% of the budget;
  // bandwidth runs if at least a few MiB at 100 Mbit/s fit in what is left.
  void pinger_round_trip() {
    if (warmed_up_) rtts_.push_back(seconds_since(sent_at_));
    warmed_up_ = true;
    const double now_s = seconds_since(start_);
    if (static_cast<int>(rtts_.size()) < options_.pings && now_s < 0.25 * options_.budget_s) return ping();
    if (!rtts_.empty()) result_ = {.rtt_s = median(rtts_), .rtt_measured = true};
    rtt_done_s_ = now_s;
    const double bulk_s = 4 * result_.rtt_s + 3.0 * kChunkBytes / (100e6 / 8);
    const bool bulk = result_.rtt_measured && options_.bandwidth_bytes > 0 && now_s + bulk_s < options_.budget_s;
    send_control(bulk ? kStopThenBulk : kStop);
    if (!bulk) {
      done_ = true;
      return;
    }
    bulk_ = true;
    chunk_.assign(kChunkBytes, std::byte{0x5a});
    post_recv(kAck, &ack_bandwidth_, sizeof ack_bandwidth_, recv_);
  }

  // Pinger: keep up to kWindow chunks in flight until next_chunk() says
  // stop, then (all sent chunks done) tell the responder how many went.
  void pinger_bulk() {
    if (finished(credit_, peer_) && credit_posted_) {
      credited_ = std::max(credited_, credit_value_);
      credit_posted_ = false;
    }
    // A credit receive stays posted while credits are still owed.
    if (!credit_posted_ && (credited_ < chunks_sent_ || !end_sent_)) {
      post_recv(kCredit, &credit_value_, sizeof credit_value_, credit_);
      credit_posted_ = true;
    }
    if (!end_sent_) {
      for (int i = 0; i < kWindow; ++i)
        if (slot_busy_[i] && finished(slots_[i], peer_)) slot_busy_[i] = false, ++chunks_done_;
      Stream next = next_chunk();
      for (int i = 0; i < kWindow && next == Stream::kSend; ++i) {
        if (slot_busy_[i]) continue;
        post_send(kBulk, chunk_.data(), chunk_.size(), slots_[i]);
        slot_busy_[i] = true;
        ++chunks_sent_;
        next = next_chunk();
      }
      if (next != Stream::kStop || chunks_sent_ > chunks_done_ || !finished(send_, peer_)) return;
      out_ = chunks_sent_;
      post_send(kBulk, &out_, sizeof out_, send_);  // shorter than a chunk: the end of the stream
      end_sent_ = true;
      if (credit_posted_ && credited_ == chunks_sent_) {  // nothing more will come
        transport_.cancel(&credit_);
        credit_.state = Completion::kDone;
        credit_posted_ = false;
      }
    }
    // Done when the ack came and every credit did (none left on the wire).
    if (!finished(recv_, peer_) || credited_ < chunks_sent_ || !sends_finished()) return;
    if (ack_bandwidth_ > 0) result_.bandwidth_bytes_per_s = ack_bandwidth_, result_.bandwidth_measured = true;
    done_ = true;
    log(LogLevel::kInfo, "probe {}->{}: RTT {:.3f} ms ({} samples, done at {:.0f} ms), {} MiB streamed, {:.2f} Gbit/s, "
        "done at {:.0f} ms",
        me_, peer_, result_.rtt_s * 1e3, rtts_.size(), rtt_done_s_ * 1e3, chunks_sent_, ack_bandwidth_ * 8 / 1e9,
        seconds_since(start_) * 1e3);
  }

  // Another chunk if options.bandwidth_bytes allows, the stream is before
  // its deadline, and what would then be in flight drains (at the rate seen
  // so far) with the ack back inside 90% of the budget.
  enum class Stream { kSend, kWait, kStop };
  Stream next_chunk() const {
    const double now_s = seconds_since(start_);
    if (chunks_sent_ * kChunkBytes >= options_.bandwidth_bytes) return Stream::kStop;
    if (now_s > 0.7 * options_.budget_s - 2 * result_.rtt_s) return Stream::kStop;
    if (chunks_sent_ - credited_ >= static_cast<uint64_t>(kWindow)) return Stream::kWait;
    // Until the first credit shows the rate, a smaller window: on a fresh
    // 50 ms connection, 8 MiB took ~700 ms to arrive (testbed, docs/topology.md).
    if (credited_ == 0) return chunks_sent_ < static_cast<uint64_t>(kFirstWindow) ? Stream::kSend : Stream::kWait;
    const double rate = static_cast<double>(credited_ * kChunkBytes) / std::max(now_s - rtt_done_s_, 1e-6);
    const double drain_s = static_cast<double>((chunks_sent_ - credited_ + 1) * kChunkBytes) / rate;
    return now_s + drain_s + result_.rtt_s < 0.9 * options_.budget_s ? Stream::kSend : Stream::kStop;
  }

  void responder_control() {
    if (in_ == kPing) {
      send_control(kPing);
      return post_control_recv();
    }
    if (in_ == kStop) {
      done_ = true;
      return;
    }
    if (in_ != kStopThenBulk)
      fail(ErrorCode::kInternal, {me_, peer_, "link probe"}, "unexpected probe command {}", in_);
    bulk_ = true;
    buffers_.assign(kWindow, std::vector<std::byte>(kChunkBytes));
    for (int i = 0; i < kWindow; ++i) post_recv(kBulk, buffers_[i].data(), kChunkBytes, slots_[i]);
  }

  // Responder: note when each chunk lands and re-post its buffer; the short
  // end message says how many chunks to wait for. Then send the bandwidth back.
  void responder_bulk() {
    if (acked_) {
      done_ = finished(send_, peer_);
      return;
    }
    for (int i = 0; i < kWindow; ++i) {
      if (!finished(slots_[i], peer_) || slot_idle_[i]) continue;
      if (slots_[i].received_bytes == kChunkBytes) {
        arrivals_s_.push_back(seconds_since(start_));
        post_recv(kBulk, buffers_[i].data(), kChunkBytes, slots_[i]);
      } else {
        std::memcpy(&expected_chunks_, buffers_[i].data(), sizeof expected_chunks_);
        slot_idle_[i] = true;
      }
    }
    // Credits are cumulative, so one in flight at a time is enough.
    if (finished(credit_, peer_) && credit_value_ < arrivals_s_.size()) {
      credit_value_ = arrivals_s_.size();
      post_send(kCredit, &credit_value_, sizeof credit_value_, credit_);
    }
    if (expected_chunks_ < 0 || static_cast<int64_t>(arrivals_s_.size()) < expected_chunks_) return;
    if (credit_value_ < arrivals_s_.size()) return;  // the last credit goes before the ack
    for (Completion& slot : slots_)
      if (slot.state.load() == Completion::kPending) transport_.cancel(&slot), slot.state = Completion::kDone;
    ack_bandwidth_ = steady_bandwidth(arrivals_s_);
    post_send(kAck, &ack_bandwidth_, sizeof ack_bandwidth_, send_);
    acked_ = true;
  }

  Transport& transport_;
  const int me_, peer_;
  const bool pinger_;
  const topology::ProbeOptions& options_;
  const Clock::time_point start_;
  bool done_ = false, warmed_up_ = false, bulk_ = false, end_sent_ = false, acked_ = false;
  Completion send_, recv_;
  std::array<Completion, kWindow> slots_;
  std::array<bool, kWindow> slot_idle_{};  // responder: slot got the end message
  std::array<bool, kWindow> slot_busy_{};  // pinger: a chunk is in flight from this slot
  uint64_t out_ = 0, in_ = 0;
  Clock::time_point sent_at_;
  std::vector<double> rtts_, arrivals_s_;
  std::vector<std::byte> chunk_;
  std::vector<std::vector<std::byte>> buffers_;
  uint64_t chunks_sent_ = 0, chunks_done_ = 0, credited_ = 0, credit_value_ = 0;
  Completion credit_;  // pinger: the posted credit receive; responder: the credit send
  bool credit_posted_ = false;
  int64_t expected_chunks_ = -1;
  double ack_bandwidth_ = 0;
  double rtt_done_s_ = 0;
  LinkDistance result_;
};

}  // namespace

std::vector<LinkDistance> TransportLinkProber::probe(std::span<const int> peers,
                                                     const topology::ProbeOptions& options) {
  const Clock::time_point start = Clock::now();
  std::vector<std::unique_ptr<LinkProbe>> links;
  for (int peer : peers) links.push_back(std::make_unique<LinkProbe>(transport_, peer, options, start));
  const double hard_limit_s = std::max(timeout_s_, options.budget_s * 10);
  for (;;) {
    bool active = false;
    for (auto& link : links) {
      link->step();
      active |= !link->done();
    }
    if (!active) break;
    if (seconds_since(start) > hard_limit_s)
      fail(ErrorCode::kTimeout, {transport_.rank(), -1, "link probe"}, "probing {} peer(s) took more than {:.0f} s",
           links.size(), hard_limit_s);
    if (!transport_.progress()) transport_.wait_for_activity(std::chrono::microseconds(200));
  }
  // The last control or ack send of each link must leave before its buffer does.
  for (auto& link : links)
    while (!link->sends_finished()) transport_.progress();
  std::vector<LinkDistance> results;
  for (auto& link : links) results.push_back(link->result());
  return results;
}

namespace {

constexpr size_t kSiteBytes = 64;
constexpr size_t kErrorBytes = 448;

// What each rank says about its own site settings: STRATA_SITE and, if
// reading STRATA_TOPO_FILE failed there, why.
struct SiteRecord {
  int32_t probe = 0;  // STRATA_PROBE and STRATA_PROBE_MS: every rank must agree
  int32_t probe_ms = 0;
  char site[kSiteBytes] = {};
  char error[kErrorBytes] = {};
};

std::optional<topology::TopologyFile> exchange_site_settings(Bootstrap& bootstrap,
                                                             std::vector<std::string>& site_env_of_rank) {
  SiteRecord mine;
  mine.probe = config().probe;
  mine.probe_ms = config().probe_ms;
  std::optional<topology::TopologyFile> file;
  std::string error;
  if (config().site.size() >= kSiteBytes)
    error = fmt::format("STRATA_SITE='{}' is longer than {} characters", config().site, kSiteBytes - 1);
  std::memcpy(mine.site, config().site.data(), std::min(config().site.size(), kSiteBytes - 1));
  if (error.empty() && !config().topo_file.empty()) {
    try {
      file = topology::load_topology_file(config().topo_file);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  std::memcpy(mine.error, error.data(), std::min(error.size(), kErrorBytes - 1));
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(&mine, 1)));
  for (int rank = 0; rank < bootstrap.size(); ++rank) {
    SiteRecord record;
    std::memcpy(&record, all.data() + rank * sizeof(SiteRecord), sizeof(SiteRecord));
    if (record.error[0] != '\0')
      fail(ErrorCode::kInvalidArgument, {rank, -1, "communicator creation"}, "rank {}: {}", rank,
           std::string(record.error, strnlen(record.error, kErrorBytes)));
    if (record.probe != mine.probe || record.probe_ms != mine.probe_ms)
      fail(ErrorCode::kInvalidArgument, {bootstrap.rank(), rank, "communicator creation"},
           "ranks disagree on probing: rank {} has STRATA_PROBE={} STRATA_PROBE_MS={}, rank {} has {} and {}",
           bootstrap.rank(), mine.probe, mine.probe_ms, rank, record.probe, record.probe_ms);
    site_env_of_rank.emplace_back(record.site, strnlen(record.site, kSiteBytes));
  }
  return file;
}

// One link measurement as it travels in the allgather.
struct WireLink {
  double rtt_s = 0;
  double bandwidth_bytes_per_s = 0;
  double flags = 0;  // bit 0: RTT measured, bit 1: bandwidth measured
};

// Leaders probe each other; every rank receives every leader's row.
void probe_leaders(Bootstrap& bootstrap, Transport& transport, topology::Topology& topology) {
  const int rank = bootstrap.rank();
  const int nodes = topology.node_count;
  const std::vector<int> leaders = topology.node_leaders();
  const int my_node = topology.node_of_rank[rank];
  const topology::ProbeOptions options{.budget_s = config().probe_ms / 1e3};
  const Clock::time_point start = Clock::now();

  std::vector<WireLink> row(nodes);
  if (leaders[my_node] == rank) {
    std::vector<int> peers;
    for (int node = 0; node < nodes; ++node)
      if (node != my_node) peers.push_back(leaders[node]);
    TransportLinkProber prober(transport, config().timeout_s);
    const std::vector<LinkDistance> measured = prober.probe(peers, options);
    for (size_t i = 0, node = 0; i < measured.size(); ++i, ++node) {
      if (static_cast<int>(node) == my_node) ++node;
      row[node] = {measured[i].rtt_s, measured[i].bandwidth_bytes_per_s,
                   double((measured[i].rtt_measured ? 1 : 0) | (measured[i].bandwidth_measured ? 2 : 0))};
    }
  }
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(row)));
  topology.node_links.assign(nodes, std::vector<LinkDistance>(nodes));
  for (int node = 0; node < nodes; ++node) {
    const auto* leader_row = reinterpret_cast<const WireLink*>(all.data()) + leaders[node] * nodes;
    for (int other = 0; other < nodes; ++other) {
      const WireLink& link = leader_row[other];
      const int flags = static_cast<int>(link.flags);
      topology.node_links[node][other] = {.rtt_s = link.rtt_s,
                                          .bandwidth_bytes_per_s = link.bandwidth_bytes_per_s,
                                          .rtt_measured = (flags & 1) != 0,
                                          .bandwidth_measured = (flags & 2) != 0};
    }
  }
  // Only the lower rank of each pair (the pinger) times the link; mirror its
  // numbers so the matrix is complete (bandwidth is that of its direction).
  for (int i = 0; i < nodes; ++i)
    for (int j = 0; j < nodes; ++j)
      if (i != j && !topology.node_links[i][j].rtt_measured && leaders[j] < leaders[i])
        topology.node_links[i][j] = topology.node_links[j][i];
  topology.probe_seconds = seconds_since(start);
}

}  // namespace

void discover_sites_and_distances(Bootstrap& bootstrap, Transport& transport, topology::Topology& topology) {
  topology::SiteSources sources;
  sources.file = exchange_site_settings(bootstrap, sources.site_env_of_rank);
  if (config().probe && topology.node_count > 1) {
    probe_leaders(bootstrap, transport, topology);
    sources.node_links = topology.node_links;
    int pairs = 0, with_bandwidth = 0;
    for (int i = 0; i < topology.node_count; ++i)
      for (int j = 0; j < topology.node_count; ++j)
        if (i < j) ++pairs, with_bandwidth += topology.node_links[i][j].bandwidth_measured;
    topology.probe_note = fmt::format("probed {} leader pair(s) in {:.0f} ms (budget {} ms); bandwidth on {} of them",
                                      pairs, topology.probe_seconds * 1e3, config().probe_ms, with_bandwidth);
  } else {
    topology.probe_note = config().probe ? "one node: nothing to probe" : "probing disabled (STRATA_PROBE=0)";
  }
  topology::assign_sites(topology, sources);
  topology::summarize_distances(topology, sources.file ? &*sources.file : nullptr);
  log(LogLevel::kInfo, "rank {}: {} site(s) from {}; {}", bootstrap.rank(), topology.site_count,
      topology.site_source, topology.probe_note);
}

}  // namespace strata::runtime
