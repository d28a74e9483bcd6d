#include "runtime/topology_probe.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>

#include <fmt/ranges.h>

#include "common/error.h"
#include "common/log.h"
#include "runtime/bootstrap/bootstrap.h"
#include "runtime/config/config.h"
#include "runtime/transport/transport.h"
#include "runtime/wire_tag.h"
#include "topology/link_estimates.h"
#include "topology/site_assignment.h"

namespace strata::runtime {
namespace {

using Clock = std::chrono::steady_clock;
using topology::LinkDistance;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Probe messages never share a tag with communicator traffic: communicator
// ids come from a 12-bit hash, and probing ends before the first operation.
constexpr uint32_t kProbeCommId = 0xfff;
// Bulk chunk n carries message index kBulkBase + n % kBulkTags: consecutive
// chunks then differ in tag, so a transport that spreads a peer's messages
// over several connections by tag (UCX lanes, STRATA_LANES) uses all of them.
constexpr uint32_t kBulkTags = 16;
enum MessageIndex : uint32_t { kControl = 0, kAck = 2, kCredit = 3, kEnd = 4, kBulkBase = 16 };
// Control words: the command in the low byte, its argument above it.
enum Command : uint64_t { kPing = 1, kStop = 2, kStopThenBulk = 3 };

// Bandwidth: a stream of kChunkBytes messages, bounded by the receiver's
// cumulative credits (a send completes once its bytes are in the socket
// buffer, so only credits bound what is in flight). Small chunks give the
// receiver many timestamps; the window follows the rate seen (4 x rate x RTT,
// 64 MiB at most), because a fixed 8 MiB caps a 50 ms link at 1.3 Gbit/s.
constexpr size_t kChunkBytes = size_t{64} << 10;
constexpr uint64_t kFirstWindow = (size_t{4} << 20) / kChunkBytes;  // chunks before the first credit shows a rate
constexpr uint64_t kMaxWindow = (size_t{64} << 20) / kChunkBytes;
constexpr int kPostedReceives = (size_t{16} << 20) / kChunkBytes;  // receiver: chunks it can take without re-posting
constexpr int kPingSlots = 8;           // concurrent pings / echoes
constexpr double kRttShare = 0.25;      // of the budget, at most for RTT sampling
constexpr size_t kMinRttSamples = 3;
// The end message, the rate reply and the scheduling of busy hosts need the
// rest: with 0.75 / 0.9 a loaded 2-core host overran a 1 s budget by 12%.
constexpr double kStreamShare = 0.7;    // of the budget: no chunk starts after this (minus one RTT)
constexpr double kDrainShare = 0.8;     // of the budget: what is in flight must have arrived by then
constexpr double kRampBytesPerSecond = 5e6;  // 40 Mbit/s: the average of the slowest TCP start seen on a 50 ms testbed link
constexpr double kFreeWindowShare = 0.5;  // of the budget: until then the first window ignores the drain rule

uint64_t probe_tag(int sender, uint32_t index) {
  return WireTag{.comm_id = kProbeCommId, .point_to_point = true, .sequence = 0x1fff}.for_message(sender, index);
}
uint32_t bulk_index(uint64_t chunk) { return kBulkBase + static_cast<uint32_t>(chunk % kBulkTags); }

bool finished(const Completion& completion, int peer) {
  const uint8_t state = completion.state.load(std::memory_order_acquire);
  if (state == Completion::kFailed)
    fail(ErrorCode::kRemote, {-1, peer, "link probe"}, "probe transfer failed: {}", completion.error);
  return state == Completion::kDone;
}

void reset(Completion& completion) { completion.state.store(Completion::kPending, std::memory_order_relaxed); }

// Completions start "done" so that an unused slot reads as free.
std::vector<Completion> idle_completions(size_t count) {
  std::vector<Completion> completions(count);
  for (Completion& completion : completions) completion.state = Completion::kDone;
  return completions;
}

// One link as seen from one end. The lower rank of a pair drives it
// (pinger); the higher one answers (responder).
class LinkProbe {
 public:
  LinkProbe(Transport& transport, int peer, const topology::ProbeOptions& options, Clock::time_point start)
      : transport_(transport), me_(transport.rank()), peer_(peer), pinger_(me_ < peer), options_(options),
        start_(start), control_sends_(idle_completions(kPingSlots)), control_words_(kPingSlots),
        slots_(idle_completions(pinger_ ? kMaxWindow : kPostedReceives)), slot_chunk_(slots_.size(), -1) {
    for (Completion* completion : {&recv_, &credit_, &end_}) completion->state = Completion::kDone;
    post_control_recv();
    chunk_.assign(kChunkBytes, std::byte{0x5a});
    if (pinger_) send_ping(0);
  }

  bool done() const { return done_; }
  const LinkDistance& result() const { return result_; }
  bool sends_finished() {
    for (Completion* completion : {&credit_, &end_})
      if (!finished(*completion, peer_)) return false;
    for (std::vector<Completion>* list : {&control_sends_, &slots_})
      for (Completion& completion : *list)
        if (!finished(completion, peer_)) return false;
    return true;
  }

  // Moves this link's protocol on by whatever has completed.
  void step() {
    if (done_) return;
    if (!bulk_) return pinger_ ? pinger_round_trips() : responder_control();
    pinger_ ? pinger_bulk() : responder_bulk();
  }

 private:
  void post_send(uint32_t index, const void* data, size_t bytes, Completion& completion) {
    reset(completion);
    transport_.post_send(peer_, probe_tag(me_, index), data, bytes, &completion);
  }
  void post_recv(uint32_t index, void* data, size_t bytes, Completion& completion) {
    reset(completion);
    transport_.post_recv(peer_, probe_tag(peer_, index), data, bytes, &completion);
  }
  void post_control_recv() {
    post_recv(kControl, &in_, sizeof in_, recv_);
    control_posted_ = true;
  }
  // False when every control slot is still sending (then try again later).
  bool send_control(uint64_t word) {
    for (int i = 0; i < kPingSlots; ++i) {
      if (!finished(control_sends_[i], peer_)) continue;
      control_words_[i] = word;
      post_send(kControl, &control_words_[i], sizeof(uint64_t), control_sends_[i]);
      return true;
    }
    return false;
  }
  bool send_ping(int index) {
    if (!send_control(kPing | (static_cast<uint64_t>(index) << 8))) return false;
    ping_sent_at_[index] = Clock::now();
    return true;
  }

  // Pinger: ping 0 warms the connection up (its round trip may include
  // connection setup, so it is not counted). Pings 1..n then leave a few
  // milliseconds apart, so their samples see different jitter, without
  // waiting a whole round trip each: on a 50 ms link, n sequential pings
  // would eat the time TCP needs to open its window for the bandwidth stream.
  void pinger_round_trips() {
    const double now_s = seconds_since(start_);
    const int pings = std::min(options_.pings, static_cast<int>(ping_sent_at_.size()) - 1);
    if (control_posted_ && finished(recv_, peer_)) {
      control_posted_ = false;
      const auto index = static_cast<size_t>(in_ >> 8);
      const double rtt = std::chrono::duration<double>(Clock::now() - ping_sent_at_.at(index)).count();
      if (index == 0) ping_gap_s_ = std::clamp(rtt / 8, 0.5e-3, 5e-3), first_pong_s_ = now_s;
      else rtts_.push_back(rtt);
      ++pongs_;
    }
    // RTT is what site clustering needs, so a link whose connection setup
    // ate the RTT share still gets a few samples (up to half the budget).
    const bool out_of_time = now_s > kRttShare * options_.budget_s &&
                             (rtts_.size() >= kMinRttSamples || now_s > 0.5 * options_.budget_s);
    if (pongs_ > 0 && pings_sent_ < pings && !out_of_time &&
        seconds_since(ping_sent_at_[pings_sent_]) >= ping_gap_s_ && send_ping(pings_sent_ + 1))
      ++pings_sent_;
    if (!control_posted_ && pongs_ < pings_sent_ + 1) post_control_recv();
    if (pongs_ == pings_sent_ + 1 && (pings_sent_ == pings || out_of_time)) start_bulk_or_stop(now_s);
  }

  void start_bulk_or_stop(double now_s) {
    if (!rtts_.empty()) result_ = {.rtt_s = topology::median(rtts_), .rtt_measured = true};
    rtt_done_s_ = now_s;
    stop_s_ = kStreamShare * options_.budget_s - result_.rtt_s;
    const bool bulk = result_.rtt_measured && options_.bandwidth_bytes > 0 && now_s + 3 * result_.rtt_s + 0.05 < stop_s_;
    const uint64_t rtt_us = static_cast<uint64_t>(result_.rtt_s * 1e6);
    if (!send_control(bulk ? kStopThenBulk | (rtt_us << 8) : kStop)) return;  // a slot frees up soon
    if (!bulk) {
      done_ = true;
      log(LogLevel::kInfo, "probe {}->{}: RTT {:.3f} ms ({} samples, first reply after {:.0f} ms, done at {:.0f} ms); "
          "no time left for bandwidth",
          me_, peer_, result_.rtt_s * 1e3, rtts_.size(), first_pong_s_ * 1e3, now_s * 1e3);
      return;
    }
    bulk_ = true;
    credit_history_.push_back({now_s, 0});
    post_recv(kAck, &ack_bandwidth_, sizeof ack_bandwidth_, recv_);
  }

  // Pinger: stream chunks while stream_allows() says so, then tell the
  // responder how many went; done when its ack and every credit are back.
  void pinger_bulk() {
    take_credits();
    if (!end_sent_) {
      for (size_t i = 0; i < slots_.size(); ++i)
        if (slot_chunk_[i] >= 0 && finished(slots_[i], peer_)) slot_chunk_[i] = -1;
      Stream next = stream_allows();
      for (size_t i = 0; i < slots_.size() && next == Stream::kSend; ++i) {
        if (slot_chunk_[i] >= 0) continue;
        slot_chunk_[i] = static_cast<int64_t>(chunks_sent_);
        post_send(bulk_index(chunks_sent_++), chunk_.data(), chunk_.size(), slots_[i]);
        next = stream_allows();
      }
      if (next != Stream::kStop) return;
      end_word_ = chunks_sent_;
      post_send(kEnd, &end_word_, sizeof end_word_, end_);
      end_sent_ = true;
    }
    if (end_sent_ && credit_posted_ && credited_ == chunks_sent_) {  // nothing more will come
      transport_.cancel(&credit_);
      credit_.state = Completion::kDone;
      credit_posted_ = false;
    }
    if (!finished(recv_, peer_) || credited_ < chunks_sent_ || !sends_finished()) return;
    if (ack_bandwidth_ > 0) result_.bandwidth_bytes_per_s = ack_bandwidth_, result_.bandwidth_measured = true;
    done_ = true;
    log(LogLevel::kInfo, "probe {}->{}: RTT {:.3f} ms ({} samples, first reply after {:.0f} ms, done at {:.0f} ms), "
        "{:.1f} MiB streamed, {:.2f} Gbit/s, done at {:.0f} ms",
        me_, peer_, result_.rtt_s * 1e3, rtts_.size(), first_pong_s_ * 1e3, rtt_done_s_ * 1e3,
        static_cast<double>(chunks_sent_ * kChunkBytes) / (1 << 20), ack_bandwidth_ * 8 / 1e9,
        seconds_since(start_) * 1e3);
  }

  // Credits are cumulative; one receive stays posted while any are owed.
  void take_credits() {
    if (credit_posted_ && finished(credit_, peer_)) {
      credit_posted_ = false;
      if (credit_value_ > credited_) {
        credited_ = credit_value_;
        credit_history_.push_back({seconds_since(start_), credited_});
      }
    }
    if (!credit_posted_ && (credited_ < chunks_sent_ || !end_sent_)) {
      post_recv(kCredit, &credit_value_, sizeof credit_value_, credit_);
      credit_posted_ = true;
    }
  }

  // Bytes per second credited over the last two round trips (at least 20 ms),
  // so the window tracks TCP's ramp instead of its slow start; 0 before any credit.
  double recent_rate(double now_s) const {
    if (credited_ == 0) return 0;
    const double since = now_s - std::max(2 * result_.rtt_s, 0.02);
    auto reference = credit_history_.front();
    for (const auto& entry : credit_history_)
      if (entry.first <= since) reference = entry;
    const double span = std::max(now_s - reference.first, 1e-3);
    return static_cast<double>((credited_ - reference.second) * kChunkBytes) / span;
  }

  // Another chunk if the byte cap allows, the stream is before its end time,
  // the window allows, and what would then be in flight drains (at the rate
  // seen) with the ack back inside kDrainShare of the budget. kWait while
  // the window or the drain rule holds it back: credits may free it.
  // Chunks in flight before the rate is known: kFirstWindow, but no more than
  // drains by the deadline at the slowest TCP ramp seen (a 50 ms link once
  // took 815 ms for a 4 MiB first window and the probe overran by 20%).
  uint64_t first_window(double now_s) const {
    const double left_s = kDrainShare * options_.budget_s - now_s - result_.rtt_s;
    const double chunks = std::max(left_s, 0.0) * kRampBytesPerSecond / kChunkBytes;
    return std::clamp<uint64_t>(static_cast<uint64_t>(chunks), 1, kFirstWindow);
  }

  enum class Stream { kSend, kWait, kStop };
  Stream stream_allows() const {
    const double now_s = seconds_since(start_);
    if (chunks_sent_ * kChunkBytes >= options_.bandwidth_bytes || now_s > stop_s_) return Stream::kStop;
    const uint64_t in_flight = chunks_sent_ - credited_;
    if (credited_ == 0) return in_flight < first_window(now_s) ? Stream::kSend : Stream::kWait;
    const double rate = recent_rate(now_s);
    const double bdp_chunks = 4 * rate * std::max(result_.rtt_s, 1e-3) / kChunkBytes;
    const uint64_t window = std::clamp(static_cast<uint64_t>(std::ceil(bdp_chunks)), kFirstWindow, kMaxWindow);
    if (in_flight >= window) return Stream::kWait;
    // The first window is allowed in the first half of the budget: early
    // rates are TCP's ramp, and holding back on them kept a 50 ms link from
    // ever leaving it. Later, a slow link could not drain 4 MiB in time
    // (the probe overran its budget by 10-20% on the 50 ms / 500 Mbit link).
    if (in_flight < first_window(now_s) && now_s < kFreeWindowShare * options_.budget_s) return Stream::kSend;
    const double drain_s = static_cast<double>((in_flight + 1) * kChunkBytes) / std::max(rate, 1.0);
    return now_s + drain_s + result_.rtt_s < kDrainShare * options_.budget_s ? Stream::kSend : Stream::kWait;
  }

  void responder_control() {
    if (!finished(recv_, peer_)) return;
    const uint64_t command = in_ & 0xff;
    if (command == kPing) {
      if (send_control(in_)) post_control_recv();  // else: echo on a later step
      return;
    }
    if (command == kStop) {
      done_ = true;
      return;
    }
    if (command != kStopThenBulk)
      fail(ErrorCode::kInternal, {me_, peer_, "link probe"}, "unexpected probe command {}", in_);
    result_.rtt_s = static_cast<double>(in_ >> 8) * 1e-6;
    bulk_ = true;
    // Every receive lands in the same buffer (chunk_): the contents are never
    // read, and this keeps a responder with 7 peers at 7 chunks.
    for (size_t i = 0; i < slots_.size(); ++i) post_chunk_recv(i);
    post_recv(kEnd, &end_word_, sizeof end_word_, end_);
  }
  void post_chunk_recv(size_t slot) {
    slot_chunk_[slot] = static_cast<int64_t>(chunks_posted_);
    post_recv(bulk_index(chunks_posted_++), chunk_.data(), kChunkBytes, slots_[slot]);
  }

  // Responder: note when each chunk lands and post the next receive; the
  // end message says how many chunks to wait for. Then send the rate back.
  void responder_bulk() {
    if (acked_) {
      done_ = finished(recv_, peer_);
      return;
    }
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slot_chunk_[i] < 0 || !finished(slots_[i], peer_)) continue;
      arrivals_s_.push_back(seconds_since(start_));
      slot_chunk_[i] = -1;
      if (expected_chunks_ < 0 || chunks_posted_ < static_cast<uint64_t>(expected_chunks_)) post_chunk_recv(i);
    }
    if (expected_chunks_ < 0 && finished(end_, peer_)) expected_chunks_ = static_cast<int64_t>(end_word_);
    if (finished(credit_, peer_) && credit_value_ < arrivals_s_.size()) {
      credit_value_ = arrivals_s_.size();
      post_send(kCredit, &credit_value_, sizeof credit_value_, credit_);
    }
    if (expected_chunks_ < 0 || static_cast<int64_t>(arrivals_s_.size()) < expected_chunks_) return;
    if (credit_value_ < arrivals_s_.size()) return;  // the last credit goes before the ack
    for (size_t i = 0; i < slots_.size(); ++i)
      if (slot_chunk_[i] >= 0) transport_.cancel(&slots_[i]), slots_[i].state = Completion::kDone, slot_chunk_[i] = -1;
    // Spans of at least two round trips and 40 ms: a receiver that was off
    // the CPU for a few ms then sees a burst, which must not pose as the rate.
    ack_bandwidth_ = topology::steady_rate(arrivals_s_, kChunkBytes, std::max(2 * result_.rtt_s, 0.04));
    log_arrivals();
    reset(recv_);  // reuse: the ack send
    transport_.post_send(peer_, probe_tag(me_, kAck), &ack_bandwidth_, sizeof ack_bandwidth_, &recv_);
    acked_ = true;
  }

  // STRATA_DEBUG=INFO: the arrival rate per tenth of the stream, to show
  // how fast the window opened.
  void log_arrivals() const {
    std::vector<double> sorted = arrivals_s_;
    std::sort(sorted.begin(), sorted.end());
    std::string profile;
    const size_t n = sorted.size(), step = std::max<size_t>(n / 10, 2);
    for (size_t i = 0; i + step < n; i += step)
      profile += fmt::format(" {:.0f}", step * kChunkBytes * 8 / 1e6 / std::max(sorted[i + step] - sorted[i], 1e-6));
    log(LogLevel::kInfo, "probe {}<-{}: {} chunks from {:.0f} to {:.0f} ms; Mbit/s per tenth:{}; steady {:.0f} Mbit/s",
        me_, peer_, n, n ? sorted.front() * 1e3 : 0, n ? sorted.back() * 1e3 : 0, profile, ack_bandwidth_ * 8 / 1e6);
  }

  Transport& transport_;
  const int me_, peer_;
  const bool pinger_;
  const topology::ProbeOptions& options_;
  const Clock::time_point start_;
  bool done_ = false, bulk_ = false, end_sent_ = false, acked_ = false, credit_posted_ = false;
  bool control_posted_ = false;  // pinger: a pong receive is posted
  Completion recv_;    // control receive; pinger's ack receive; responder's ack send
  Completion credit_;  // pinger: the posted credit receive; responder: the credit send
  Completion end_;     // pinger: the end send; responder: its receive
  std::vector<Completion> control_sends_;
  std::vector<uint64_t> control_words_;
  std::vector<Completion> slots_;     // pinger: chunk sends; responder: chunk receives
  std::vector<int64_t> slot_chunk_;   // the chunk each slot carries, -1 when free
  uint64_t in_ = 0, end_word_ = 0;
  std::array<Clock::time_point, 17> ping_sent_at_{};
  int pings_sent_ = 0, pongs_ = 0;
  double ping_gap_s_ = 1e-3;
  std::vector<double> rtts_, arrivals_s_;
  std::vector<std::byte> chunk_;
  std::deque<std::pair<double, uint64_t>> credit_history_;  // (seconds, chunks credited)
  uint64_t chunks_sent_ = 0, chunks_posted_ = 0, credited_ = 0, credit_value_ = 0;
  int64_t expected_chunks_ = -1;
  double ack_bandwidth_ = 0, rtt_done_s_ = 0, stop_s_ = 0, first_pong_s_ = 0;
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
constexpr size_t kPathBytes = 192;

// What each rank says about its own site settings: STRATA_SITE and, if
// reading STRATA_TOPO_FILE failed there, why.
struct SiteRecord {
  int32_t probe = 0;  // STRATA_PROBE and STRATA_PROBE_MS: every rank must agree
  int32_t probe_ms = 0;
  uint64_t file_hash = 0;  // of STRATA_TOPO_FILE's contents; 0 when unset
  char site[kSiteBytes] = {};
  char file[kPathBytes] = {};  // STRATA_TOPO_FILE as this rank names it
  char error[kErrorBytes] = {};
};

std::string text_of(const char* field, size_t bytes) { return std::string(field, strnlen(field, bytes)); }

// Every rank reads STRATA_TOPO_FILE itself; ranks given different files (or
// one copy edited on one host) would each assign sites from their own, so
// the contents must hash alike everywhere. Names every group of ranks.
void check_same_topology_file(const std::vector<SiteRecord>& records) {
  std::map<uint64_t, std::vector<int>> ranks_of_hash;
  for (int rank = 0; rank < static_cast<int>(records.size()); ++rank)
    ranks_of_hash[records[rank].file_hash].push_back(rank);
  if (ranks_of_hash.size() < 2) return;
  std::string groups;
  for (const auto& [hash, ranks] : ranks_of_hash) {
    const SiteRecord& first = records[ranks.front()];
    groups += groups.empty() ? "" : "; ";
    groups += hash == 0 ? fmt::format("rank(s) {} have it unset", fmt::join(ranks, ","))
                        : fmt::format("rank(s) {} read {} (contents hash {:016x})", fmt::join(ranks, ","),
                                      text_of(first.file, kPathBytes), hash);
  }
  fail(ErrorCode::kInvalidArgument, {-1, -1, "communicator creation"},
       "ranks disagree on STRATA_TOPO_FILE (the same file must reach every rank): {}", groups);
}

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
      mine.file_hash = std::max<uint64_t>(file->content_hash, 1);  // 0 means "unset"
    } catch (const Error& e) {
      error = e.what();
    }
  }
  std::memcpy(mine.file, config().topo_file.data(), std::min(config().topo_file.size(), kPathBytes - 1));
  std::memcpy(mine.error, error.data(), std::min(error.size(), kErrorBytes - 1));
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(&mine, 1)));
  std::vector<SiteRecord> records(bootstrap.size());
  std::memcpy(records.data(), all.data(), records.size() * sizeof(SiteRecord));
  for (int rank = 0; rank < bootstrap.size(); ++rank) {
    const SiteRecord& record = records[rank];
    if (record.error[0] != '\0')
      fail(ErrorCode::kInvalidArgument, {rank, -1, "communicator creation"}, "rank {}: {}", rank,
           std::string(record.error, strnlen(record.error, kErrorBytes)));
    if (record.probe != mine.probe || record.probe_ms != mine.probe_ms)
      fail(ErrorCode::kInvalidArgument, {bootstrap.rank(), rank, "communicator creation"},
           "ranks disagree on probing: rank {} has STRATA_PROBE={} STRATA_PROBE_MS={}, rank {} has {} and {}",
           bootstrap.rank(), mine.probe, mine.probe_ms, rank, record.probe, record.probe_ms);
    site_env_of_rank.emplace_back(record.site, strnlen(record.site, kSiteBytes));
  }
  check_same_topology_file(records);
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

void share_node_hardware(Bootstrap& bootstrap, topology::Topology& topology) {
  const int rank = bootstrap.rank();
  const std::vector<int> leaders = topology.node_leaders();
  std::string mine;
  if (leaders[topology.node_of_rank[rank]] == rank)
    mine = topology::node_hardware_to_json(topology::discover_node_hardware());
  // The bootstrap gathers equal lengths: first the lengths, then padded texts.
  const uint64_t length = mine.size();
  std::vector<uint64_t> lengths(bootstrap.size());
  const std::vector<std::byte> all_lengths = bootstrap.allgather(std::as_bytes(std::span(&length, 1)));
  std::memcpy(lengths.data(), all_lengths.data(), lengths.size() * sizeof(uint64_t));
  const uint64_t longest = std::max<uint64_t>(*std::max_element(lengths.begin(), lengths.end()), 1);
  mine.resize(longest, '\0');
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(mine)));
  topology.hardware_of_node.assign(topology.node_count, {});
  for (int node = 0; node < topology.node_count; ++node) {
    const int leader = leaders[node];
    const std::string_view text(reinterpret_cast<const char*>(all.data()) + leader * longest, lengths[leader]);
    topology.hardware_of_node[node] = topology::node_hardware_from_json(
        text, fmt::format("rank {} (leader of host '{}')", leader, topology.host_of_rank[leader]));
  }
}

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
