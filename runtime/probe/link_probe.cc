#include "runtime/probe/link_probe.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/log.h"
#include "runtime/communicator/comm_ids.h"
#include "runtime/engine/wire_tag.h"
#include "topology/link_estimates.h"

namespace strata::runtime {
namespace {

using Clock = LinkProbe::Clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Probe messages never share a tag with communicator traffic: kProbeCommId
// is reserved in every CommIdSpace (comm_ids.h).
// Bulk chunk n carries message index kBulkBase + n % kBulkTags and goes
// through one of the pair's parallel connections (Transport::connect), so
// consecutive chunks use all of them.
constexpr uint32_t kBulkTags = 16;
// Control indices are multiples of 16, so with a configured lane count
// (STRATA_LANES) that divides 16 they all take the pongs' lane.
enum MessageIndex : uint32_t { kControl = 0, kAck = 16, kCredit = 32, kEnd = 48, kBulkBase = 64 };
// Control words: the command in the low byte, its argument above it.
enum Command : uint64_t { kPing = 1, kStop = 2, kBulk = 3 };

// Bandwidth: a stream of kChunkBytes messages, bounded by the receiver's
// cumulative credits (a send completes once its bytes are in the socket
// buffer, so only credits bound what is in flight). Small chunks give the
// receiver many timestamps; the window follows the rate seen (2 x rate x RTT,
// 64 MiB at most), because a fixed 8 MiB caps a 50 ms link at 1.3 Gbit/s.
// Twice, not four times: with 16 connections, 4 x rate x RTT overflowed the
// testbed's bottleneck queues (about 100 ms deep), and the retransmission
// tails made the probe overrun its 1 s budget (1.15-1.17 s in 2 of 4 runs);
// with 2 x none overflowed on the 30 and 50 ms links. TCP's windows, not
// this one, set the pace of the ramp: they grow by less than twice per RTT.
// At least 4 MiB: with a 1 MiB floor a 30 ms / 1 Gbit link whose receive
// window was still opening reached 0.21-0.33 Gbit/s in 1 s instead of
// 0.35-0.49. Before the first credit, and later whenever the rate seen is
// low, the drain rules below cap it.
constexpr size_t kChunkBytes = size_t{64} << 10;
constexpr uint64_t kMinWindow = (size_t{4} << 20) / kChunkBytes;
constexpr uint64_t kMaxWindow = (size_t{64} << 20) / kChunkBytes;
constexpr int kPostedReceives = (size_t{16} << 20) / kChunkBytes;  // receiver: chunks it can take without re-posting
constexpr int kPingSlots = 8;           // concurrent pings / echoes
constexpr double kRttShare = 0.25;      // of the budget, at most for RTT sampling
constexpr size_t kMinRttSamples = 3;
// The end message, the rate reply and the scheduling of busy hosts need the
// rest: with 0.75 / 0.9 (and windows of 4 x rate x RTT) a loaded 2-core
// host overran a 1 s budget by 12%. With 16 connections, 0.7 / 0.8 left a
// 50 ms link's plateau 5 bins (250 ms) long, one short of steady, in 6 of 8
// runs; with 0.8 / 0.85 and the stream starting behind the last ping it
// is 7 (docs/topology.md).
constexpr double kStreamShare = 0.8;    // of the budget: no chunk starts after this (minus one RTT)
constexpr double kDrainShare = 0.85;    // of the budget: what is in flight must have arrived by then
// The byte cap ends a stream only after this long: two hosts in one data
// centre moved 64 MiB in 30 ms, where one receiver stall of 28 ms left too
// little plateau to call the rate steady (1 run in 6).
constexpr double kMinStreamS = 0.1;
// A stream the drain rules held back for more than this share of it ran
// below what the link could do: under CPU load a 30 ms / 1 Gbit link read a
// steady 0.08 Gbit/s.
constexpr double kHeldShare = 0.5;
// 10 Mbit/s per connection: one 64 KB segment per 50 ms round trip. On the testbed (MTU
// 64000) a 50 ms link's receive window stayed at one segment for 670 ms
// (a 1 MiB first flight took that long); with 40 Mbit/s assumed here, a
// 2.3 MiB first flight took 666 ms and the probe overran its budget by 4%.
constexpr double kRampBytesPerSecond = 1.25e6;

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

}  // namespace

LinkProbe::LinkProbe(Transport& transport, int peer, const topology::ProbeOptions& options, Clock::time_point start)
    : transport_(transport), me_(transport.rank()), peer_(peer),
      connections_(std::max(transport.connect(peer, options.connections), 1)), pinger_(me_ < peer), options_(options),
      start_(start), control_sends_(idle_completions(kPingSlots)), control_words_(kPingSlots),
      slots_(idle_completions(pinger_ ? kMaxWindow : kPostedReceives)), slot_chunk_(slots_.size(), -1) {
  for (Completion* completion : {&recv_, &ack_, &credit_, &end_}) completion->state = Completion::kDone;
  post_control_recv();
  chunk_.assign(kChunkBytes, std::byte{0x5a});
  if (pinger_) send_ping(0);
}

bool LinkProbe::sends_finished() {
  for (Completion* completion : {&credit_, &end_})
    if (!finished(*completion, peer_)) return false;
  for (std::vector<Completion>* list : {&control_sends_, &slots_})
    for (Completion& completion : *list)
      if (!finished(completion, peer_)) return false;
  return true;
}

void LinkProbe::step() {
  if (done_) return;
  if (!pinger_) return bulk_ ? responder_bulk() : responder_control();
  if (bulk_) return pinger_bulk();
  if (!stopping_) return pinger_round_trips();
  if (collect_pongs(seconds_since(start_))) {  // stopped without a stream: done once every pong is back
    done_ = true;
    log_result("no time left for bandwidth");
  }
}

void LinkProbe::post_send(uint32_t index, const void* data, size_t bytes, Completion& completion) {
  reset(completion);
  transport_.post_send(peer_, probe_tag(me_, index), data, bytes, &completion);
}
// Chunk n goes through connection (n % kBulkTags) % connections_: chunks
// with equal tags share a connection, and consecutive ones rotate over all.
void LinkProbe::post_chunk_send(size_t slot) {
  const uint64_t chunk = chunks_sent_++;
  const auto connection = static_cast<int>((chunk % kBulkTags) % static_cast<uint64_t>(connections_));
  reset(slots_[slot]);
  transport_.post_send_via(peer_, connection, probe_tag(me_, bulk_index(chunk)), chunk_.data(), chunk_.size(),
                           &slots_[slot]);
}
void LinkProbe::post_recv(uint32_t index, void* data, size_t bytes, Completion& completion) {
  reset(completion);
  transport_.post_recv(peer_, probe_tag(peer_, index), data, bytes, &completion);
}
void LinkProbe::post_control_recv() {
  post_recv(kControl, &in_, sizeof in_, recv_);
  control_posted_ = true;
}

// False when every control slot is still sending (then try again later).
bool LinkProbe::send_control(uint64_t word) {
  for (int i = 0; i < kPingSlots; ++i) {
    if (!finished(control_sends_[i], peer_)) continue;
    control_words_[i] = word;
    post_send(kControl, &control_words_[i], sizeof(uint64_t), control_sends_[i]);
    return true;
  }
  return false;
}
bool LinkProbe::send_ping(int index) {
  if (!send_control(kPing | (static_cast<uint64_t>(index) << 8))) return false;
  ping_sent_at_[index] = Clock::now();
  return true;
}

// Pinger: takes the pong that arrived, if any, and keeps one receive posted
// while pongs are owed. True when every ping sent has its pong.
bool LinkProbe::collect_pongs(double now_s) {
  if (control_posted_ && finished(recv_, peer_)) {
    control_posted_ = false;
    const auto index = static_cast<size_t>(in_ >> 8);
    const double rtt = std::chrono::duration<double>(Clock::now() - ping_sent_at_.at(index)).count();
    if (index == 0) {
      first_rtt_s_ = rtt, ping_gap_s_ = std::clamp(rtt / 8, 0.5e-3, 5e-3), first_pong_s_ = now_s;
    } else {
      // The smallest sample: delay from a busy host (the emulator or a
      // rank off the CPU) only ever adds to a round trip, and under load on
      // 2 cores the median of 5 samples read the 10 ms link at 11.3 ms.
      rtts_.push_back(rtt);
      result_.rtt_s = std::ranges::min(rtts_), result_.rtt_measured = true;
    }
    ++pongs_;
  }
  if (!control_posted_ && pongs_ < pings_sent_ + 1) post_control_recv();
  return pongs_ == pings_sent_ + 1;
}

// Pinger: ping 0 warms the connection up (its round trip may include
// connection setup, so it is not counted). Pings 1..n then leave a few
// milliseconds apart, so their samples see different jitter, without
// waiting a whole round trip each. The stream starts right behind the last
// ping, a round trip before its pong is back: the pongs travel against the
// stream, and the chunks go out over all of the pair's connections. (With
// one connection this read the 10 ms link's RTT at 11.4-17.5 ms in 3 of 5
// runs; with 16, within 5% in every run measured, docs/topology.md.)
void LinkProbe::pinger_round_trips() {
  const double now_s = seconds_since(start_);
  collect_pongs(now_s);
  if (pongs_ == 0) return;
  const int pings = std::min(options_.pings, static_cast<int>(ping_sent_at_.size()) - 1);
  // RTT is what site clustering needs, so a link whose connection setup
  // ate the RTT share still gets a few samples (up to half the budget), and
  // at least one whatever the time: under load, connections took 400-510 ms
  // to set up, and with no sample clustering failed the communicator.
  const bool out_of_time =
      now_s > kRttShare * options_.budget_s &&
      (rtts_.size() >= kMinRttSamples || (now_s > 0.5 * options_.budget_s && !rtts_.empty()));
  if (pings_sent_ < pings && !out_of_time && seconds_since(ping_sent_at_[pings_sent_]) >= ping_gap_s_ &&
      send_ping(pings_sent_ + 1))
    ++pings_sent_;
  if (pings_sent_ == pings || (out_of_time && pongs_ == pings_sent_ + 1)) start_bulk_or_stop(now_s);
}

// Without a sample (every ping but the warm-up was lost to the time limit)
// the RTT is the warm-up's, which includes connection setup: an upper bound.
double LinkProbe::rtt_estimate_s() const { return rtts_.empty() ? first_rtt_s_ : result_.rtt_s; }

// A stream needs a few round trips to say anything: one to deliver the
// first window, one for its credits, and the end and ack. Before any sample
// is back, the warm-up's round trip stands in: it includes at least a TCP
// handshake, so it is at least two RTTs.
void LinkProbe::start_bulk_or_stop(double now_s) {
  const double needed_s = rtts_.empty() ? 2 * first_rtt_s_ : 4 * rtt_estimate_s();
  const bool bulk = options_.bandwidth_bytes > 0 && now_s + needed_s + 0.05 < kStreamShare * options_.budget_s;
  if (!send_control(bulk ? kBulk : kStop)) return;  // a slot frees up soon
  bulk_start_s_ = now_s;
  if (!bulk) {
    stopping_ = true;
    return;
  }
  bulk_ = true;
  credit_history_.push_back({now_s, 0});
  post_recv(kAck, ack_words_.data(), sizeof ack_words_, ack_);
}

// Pinger: stream chunks while stream_allows() says so, then tell the
// responder how many went; done when its ack, every credit and every pong
// are back.
void LinkProbe::pinger_bulk() {
  const bool pongs_back = collect_pongs(seconds_since(start_));
  take_credits();
  if (!end_sent_) {
    for (size_t i = 0; i < slots_.size(); ++i)
      if (slot_chunk_[i] >= 0 && finished(slots_[i], peer_)) slot_chunk_[i] = -1;
    Stream next = stream_allows();
    for (size_t i = 0; i < slots_.size() && next == Stream::kSend; ++i) {
      if (slot_chunk_[i] >= 0) continue;
      slot_chunk_[i] = static_cast<int64_t>(chunks_sent_);
      post_chunk_send(i);
      next = stream_allows();
    }
    note_held(next == Stream::kHeld);
    if (next != Stream::kStop) return;
    end_stream();
  }
  if (credit_posted_ && credited_ == chunks_sent_) {  // nothing more will come
    transport_.cancel(&credit_);
    credit_.state = Completion::kDone;
    credit_posted_ = false;
  }
  if (!pongs_back || !finished(ack_, peer_) || credited_ < chunks_sent_ || !sends_finished()) return;
  // A rate that was still rising when the stream ended, or that the drain
  // rules held back for most of the stream, is a lower bound: the distance
  // model then falls back to the configured or assumed one.
  const double rate = ack_words_[0];
  const bool steady = ack_words_[1] != 0, held = held_s_ > kHeldShare * (stream_end_s_ - bulk_start_s_);
  if (rate > 0) result_.bandwidth_bytes_per_s = rate, result_.bandwidth_measured = steady && !held;
  done_ = true;
  const char* why = !steady ? " (still rising: a lower bound, not used)"
                    : held  ? " (held back by the deadline: a lower bound, not used)"
                            : "";
  log_result(fmt::format("{:.1f} MiB streamed over {} connection(s), {:.2f} Gbit/s{}, held back {:.0f} ms",
                         static_cast<double>(chunks_sent_ * kChunkBytes) / (1 << 20), connections_, rate * 8 / 1e9,
                         why, held_s_ * 1e3)
                 .c_str());
}

// Adds up the time the drain rules (not the link) held the stream back.
void LinkProbe::note_held(bool held) {
  const double now_s = seconds_since(start_);
  if (held_) held_s_ += now_s - held_at_s_;
  held_ = held, held_at_s_ = now_s;
}

// The end message says how many chunks went and the RTT, which the responder
// sizes its rate bins by.
void LinkProbe::end_stream() {
  note_held(false);
  stream_end_s_ = seconds_since(start_);
  end_words_ = {chunks_sent_, static_cast<uint64_t>(rtt_estimate_s() * 1e6)};
  post_send(kEnd, end_words_.data(), sizeof end_words_, end_);
  end_sent_ = true;
}

void LinkProbe::log_result(const char* what) const {
  log(LogLevel::kInfo, "probe {}->{}: RTT {:.3f} ms ({} samples, first reply after {:.0f} ms, stream from {:.0f} ms), "
      "{}, done at {:.0f} ms",
      me_, peer_, result_.rtt_s * 1e3, rtts_.size(), first_pong_s_ * 1e3, bulk_start_s_ * 1e3, what,
      seconds_since(start_) * 1e3);
}

// Credits are cumulative; one receive stays posted while any are owed.
void LinkProbe::take_credits() {
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
double LinkProbe::recent_rate(double now_s) const {
  if (credited_ == 0) return 0;
  const double since = now_s - std::max(2 * rtt_estimate_s(), 0.02);
  auto reference = credit_history_.front();
  for (const auto& entry : credit_history_)
    if (entry.first <= since) reference = entry;
  const double span = std::max(now_s - reference.first, 1e-3);
  return static_cast<double>((credited_ - reference.second) * kChunkBytes) / span;
}

// Chunks in flight before the rate is known: kMinWindow, but no more than
// drains by the deadline at the slowest TCP ramp seen, on each connection
// (a 50 ms link once took 815 ms for a 4 MiB first window over one
// connection and the probe overran by 20%).
// Afterwards the drain rule in stream_allows() bounds what is in flight.
uint64_t LinkProbe::first_window(double now_s) const {
  const double left_s = kDrainShare * options_.budget_s - now_s - rtt_estimate_s();
  const double chunks = std::max(left_s, 0.0) * kRampBytesPerSecond * connections_ / kChunkBytes;
  return std::clamp<uint64_t>(static_cast<uint64_t>(chunks), 1, kMinWindow);
}

// Another chunk if the byte cap (after kMinStreamS) allows, the stream is
// before its end time, the window allows, and what would then be in flight
// drains (at the rate seen) with the ack back inside kDrainShare of the
// budget. kWindowFull or kHeld (the first-flight or drain rule) until
// credits free it.
LinkProbe::Stream LinkProbe::stream_allows() const {
  const double now_s = seconds_since(start_), rtt_s = rtt_estimate_s();
  const bool bytes_done = chunks_sent_ * kChunkBytes >= options_.bandwidth_bytes && now_s - bulk_start_s_ >= kMinStreamS;
  if (bytes_done || now_s > kStreamShare * options_.budget_s - rtt_s) return Stream::kStop;
  const uint64_t in_flight = chunks_sent_ - credited_;
  if (credited_ == 0) {
    const uint64_t first = first_window(now_s);
    if (in_flight < first) return Stream::kSend;
    return first < kMinWindow ? Stream::kHeld : Stream::kWindowFull;
  }
  const double rate = recent_rate(now_s);
  const double bdp_chunks = 2 * rate * std::max(rtt_s, 1e-3) / kChunkBytes;
  const uint64_t window = std::clamp(static_cast<uint64_t>(std::ceil(bdp_chunks)), kMinWindow, kMaxWindow);
  if (in_flight >= window) return Stream::kWindowFull;
  const double drain_s = static_cast<double>((in_flight + 1) * kChunkBytes) / std::max(rate, 1.0);
  if (now_s + drain_s + rtt_s < kDrainShare * options_.budget_s) return Stream::kSend;
  // Held back only if that starves the link: with two round trips' worth at
  // the rate seen still in flight, TCP's windows, not the probe, set the pace.
  return static_cast<double>(in_flight) < bdp_chunks ? Stream::kHeld : Stream::kWindowFull;
}

void LinkProbe::responder_control() {
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
  if (command != kBulk) fail(ErrorCode::kInternal, {me_, peer_, "link probe"}, "unexpected probe command {}", in_);
  bulk_ = true;
  // Every receive lands in the same buffer (chunk_): the contents are never
  // read, and this keeps a responder with 7 peers at 7 chunks.
  for (size_t i = 0; i < slots_.size(); ++i) post_chunk_recv(i);
  post_recv(kEnd, end_words_.data(), sizeof end_words_, end_);
}

void LinkProbe::post_chunk_recv(size_t slot) {
  slot_chunk_[slot] = static_cast<int64_t>(chunks_posted_);
  post_recv(bulk_index(chunks_posted_++), chunk_.data(), kChunkBytes, slots_[slot]);
}

// Responder: note when each chunk lands and post the next receive; the
// end message says how many chunks to wait for. Then send the rate back.
void LinkProbe::responder_bulk() {
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
  if (expected_chunks_ < 0 && finished(end_, peer_)) {
    expected_chunks_ = static_cast<int64_t>(end_words_[0]);
    result_.rtt_s = static_cast<double>(end_words_[1]) * 1e-6;
    end_arrived_s_ = seconds_since(start_);
  }
  if (finished(credit_, peer_) && credit_value_ < arrivals_s_.size()) {
    credit_value_ = arrivals_s_.size();
    post_send(kCredit, &credit_value_, sizeof credit_value_, credit_);
  }
  if (expected_chunks_ < 0 || static_cast<int64_t>(arrivals_s_.size()) < expected_chunks_) return;
  if (credit_value_ < arrivals_s_.size()) return;  // the last credit goes before the ack
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slot_chunk_[i] >= 0) transport_.cancel(&slots_[i]), slots_[i].state = Completion::kDone, slot_chunk_[i] = -1;
  const topology::DeliveryRate rate = topology::stream_delivery_rate(arrivals_s_, kChunkBytes, result_.rtt_s, end_arrived_s_);
  ack_words_ = {rate.bytes_per_s, rate.steady ? 1.0 : 0.0};
  log_arrivals();
  reset(recv_);  // reuse: the ack send
  transport_.post_send(peer_, probe_tag(me_, kAck), ack_words_.data(), sizeof ack_words_, &recv_);
  acked_ = true;
}

// STRATA_DEBUG=INFO: the arrival rate per tenth of the stream, to show
// how fast the window opened.
void LinkProbe::log_arrivals() const {
  std::vector<double> sorted = arrivals_s_;
  std::sort(sorted.begin(), sorted.end());
  std::string profile;
  const size_t n = sorted.size(), step = std::max<size_t>(n / 10, 2);
  for (size_t i = 0; i + step < n; i += step)
    profile += fmt::format(" {:.0f}", step * kChunkBytes * 8 / 1e6 / std::max(sorted[i + step] - sorted[i], 1e-6));
  if (log_level() >= LogLevel::kTrace) {  // every arrival, to replay the estimator offline
    std::vector<double> ms(sorted.size());
    std::transform(sorted.begin(), sorted.end(), ms.begin(), [](double s) { return s * 1e3; });
    log(LogLevel::kTrace, "probe {}<-{}: arrivals (ms): {:.3f}", me_, peer_, fmt::join(ms, " "));
  }
  log(LogLevel::kInfo, "probe {}<-{}: {} chunks from {:.0f} to {:.0f} ms; Mbit/s per tenth:{}; delivery rate {:.0f} Mbit/s{}",
      me_, peer_, n, n ? sorted.front() * 1e3 : 0, n ? sorted.back() * 1e3 : 0, profile, ack_words_[0] * 8 / 1e6,
      ack_words_[1] != 0 ? "" : " (still rising)");
}

}  // namespace strata::runtime
