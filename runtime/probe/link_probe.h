// One link of the topology probe as seen from one end (runtime-internal; see
// TransportLinkProber in runtime/probe/topology_probe.h and docs/topology.md). The
// lower rank of a pair drives it (pinger): a warm-up ping, a few timed pings,
// then a bulk stream whose arrival times the higher rank (responder) turns
// into a delivery rate.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

#include "runtime/transport/transport.h"
#include "topology/link_prober.h"

namespace strata::runtime {

class LinkProbe {
 public:
  using Clock = std::chrono::steady_clock;

  LinkProbe(Transport& transport, int peer, const topology::ProbeOptions& options, Clock::time_point start);

  bool done() const { return done_; }
  const topology::LinkDistance& result() const { return result_; }
  // Every send this link posted has left (its buffer may then go).
  bool sends_finished();
  // Moves this link's protocol on by whatever has completed.
  void step();

 private:
  void post_send(uint32_t index, const void* data, size_t bytes, Completion& completion);
  void post_chunk_send(size_t slot);
  void post_recv(uint32_t index, void* data, size_t bytes, Completion& completion);
  void post_control_recv();
  bool send_control(uint64_t word);
  bool send_ping(int index);

  // Pinger.
  bool collect_pongs(double now_s);
  void pinger_round_trips();
  void start_bulk_or_stop(double now_s);
  void pinger_bulk();
  void end_stream();
  void note_held(bool held);
  void take_credits();
  double rtt_estimate_s() const;
  double recent_rate(double now_s) const;
  uint64_t first_window(double now_s) const;
  enum class Stream { kSend, kWindowFull, kHeld, kStop };
  Stream stream_allows() const;
  void log_result(const char* what) const;

  // Responder.
  void responder_control();
  void post_chunk_recv(size_t slot);
  void responder_bulk();
  void log_arrivals() const;

  Transport& transport_;
  const int me_, peer_;
  const int connections_;  // parallel connections the stream spreads over
  const bool pinger_;
  const topology::ProbeOptions& options_;
  const Clock::time_point start_;
  bool done_ = false, bulk_ = false, end_sent_ = false, acked_ = false, credit_posted_ = false;
  bool stopping_ = false;        // pinger: told the responder "no stream"; waits for its last pongs
  bool control_posted_ = false;  // pinger: a pong receive is posted
  Completion recv_;    // control receive; responder's ack send
  Completion ack_;     // pinger: the ack receive
  Completion credit_;  // pinger: the posted credit receive; responder: the credit send
  Completion end_;     // pinger: the end send; responder: its receive
  std::vector<Completion> control_sends_;
  std::vector<uint64_t> control_words_;
  std::vector<Completion> slots_;     // pinger: chunk sends; responder: chunk receives
  std::vector<int64_t> slot_chunk_;   // the chunk each slot carries, -1 when free
  uint64_t in_ = 0;
  std::array<uint64_t, 2> end_words_{};  // chunks streamed, RTT in microseconds
  std::array<Clock::time_point, 17> ping_sent_at_{};
  int pings_sent_ = 0, pongs_ = 0;
  double ping_gap_s_ = 1e-3, first_rtt_s_ = 0;
  std::vector<double> rtts_, arrivals_s_;
  std::vector<std::byte> chunk_;
  std::deque<std::pair<double, uint64_t>> credit_history_;  // (seconds, chunks credited)
  uint64_t chunks_sent_ = 0, chunks_posted_ = 0, credited_ = 0, credit_value_ = 0;
  int64_t expected_chunks_ = -1;
  std::array<double, 2> ack_words_{};  // delivery rate (bytes/s), steady (1) or still rising (0)
  double bulk_start_s_ = 0, first_pong_s_ = 0, stream_end_s_ = 0;
  double end_arrived_s_ = 0;  // responder: when the end message came (the sender had stopped)
  bool held_ = false;  // pinger: the drain rules hold the stream back since held_at_s_
  double held_at_s_ = 0, held_s_ = 0;
  topology::LinkDistance result_;
};

}  // namespace strata::runtime
