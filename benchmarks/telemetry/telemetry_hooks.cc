// What telemetry adds to one transfer: the executor's two clock reads and
// the counter updates of transfer_started/transfer_ended on a WAN lane (the
// longest path: lane and whole link), timed over many transfers. With a
// call's transfer count (strata_link_messages_total / calls) this bounds
// telemetry's share of a call's time.
//
//   strata-telemetry-hooks [transfers]
#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

#include "collectives/network.h"
#include "runtime/telemetry/metrics.h"

int main(int argc, char** argv) {
  using namespace strata::runtime::telemetry;
  const long transfers = argc > 1 ? std::atol(argv[1]) : 20'000'000;
  const auto network = strata::collectives::Network::with_sites({0, 0, 1, 1}, {});
  CommMetrics metrics("bench", 1, 0, 4, network, 4, nullptr);
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < transfers; ++i) {
    const uint32_t link = metrics.link_index(2 + static_cast<int>(i & 1), static_cast<int>(i & 3));
    const Direction direction = (i & 2) ? kSend : kReceive;
    const int64_t started = now_ns();
    metrics.transfer_started(link, direction, started);
    metrics.transfer_ended(link, direction, 1 << 20, started, now_ns());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{:.1f} ns per transfer over {} transfers (WAN lanes, both directions; {} bytes counted)\n",
             seconds * 1e9 / static_cast<double>(transfers), transfers, metrics.bytes(LinkKind::kWan, kSend));
  return 0;
}
