// strata-lanes-bench: point-to-point throughput and latency of the UCX
// transport between rank 0 and rank 1 with a given number of lanes (UCP
// endpoints per peer). Built to size STRATA_LANES on the strata-sites testbed:
//   strata-sites run --ranks-per-site 1 -- strata-lanes-bench stream --lanes 4 --size 1M
// It drives the transport directly (no communicator), so what it measures is
// the transport and the network, tagged as the executor tags its messages.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/bootstrap/mpi_bootstrap.h"
#include "runtime/transport/ucx/ucx_transport.h"
#include "runtime/engine/wire_tag.h"

namespace {

using strata::runtime::Completion;
using strata::runtime::Transport;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode = "stream";  // stream | pingpong
  int lanes = 1;
  size_t size = 1 << 20;      // bytes per message
  size_t total = 256 << 20;   // bytes per direction per iteration (stream)
  int iters = 3;
  int warmup = 1;
  bool bidir = false;
};

size_t parse_bytes(const char* text) {
  char* end = nullptr;
  double value = std::strtod(text, &end);
  switch (*end) {
    case 'K': case 'k': value *= 1 << 10; break;
    case 'M': case 'm': value *= 1 << 20; break;
    case 'G': case 'g': value *= 1 << 30; break;
    default: break;
  }
  return static_cast<size_t>(value);
}

Options parse(int argc, char** argv) {
  Options options;
  if (argc > 1) options.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--lanes") options.lanes = std::atoi(value);
    else if (flag == "--size") options.size = parse_bytes(value);
    else if (flag == "--total") options.total = parse_bytes(value);
    else if (flag == "--iters") options.iters = std::atoi(value);
    else if (flag == "--warmup") options.warmup = std::atoi(value);
    else if (flag == "--bidir") options.bidir = std::atoi(value) != 0;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return options;
}

// The executor's loop: progress, else sleep in the transport (no spinning,
// so the ranks leave the CPU to the WAN emulator on a 2-core machine).
void drive(Transport& transport, std::vector<Completion>& completions) {
  auto busy = [&] {
    return std::any_of(completions.begin(), completions.end(),
                       [](const Completion& c) { return c.state.load() == Completion::kPending; });
  };
  while (busy()) {
    if (!transport.progress()) transport.wait_for_activity(std::chrono::milliseconds(100));
  }
  for (const Completion& c : completions) {
    if (c.state.load() == Completion::kFailed) {
      std::fprintf(stderr, "rank %d: transfer failed: %s\n", transport.rank(), c.error.c_str());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
}

void fill(std::vector<unsigned char>& buffer, int seed) {
  for (size_t i = 0; i < buffer.size(); i += 4096) buffer[i] = static_cast<unsigned char>(seed + i / 4096);
}

// One iteration of streaming: every message of `total` posted at once in
// each active direction; returns the slowest rank's seconds.
double stream_once(Transport& transport, const Options& options, uint32_t sequence,
                   std::vector<unsigned char>& out, std::vector<unsigned char>& in) {
  const int rank = transport.rank(), peer = 1 - rank;
  const bool sends = rank == 0 || options.bidir, receives = rank == 1 || options.bidir;
  const size_t count = options.total / options.size;
  strata::runtime::WireTag tag{.comm_id = 1, .point_to_point = false, .sequence = sequence};
  std::vector<Completion> done(2 * count);
  if (receives) {  // before the barrier, so no message arrives unexpected
    for (size_t i = 0; i < count; ++i) {
      transport.post_recv(peer, tag.for_message(peer, i), in.data() + i * options.size, options.size, &done[i]);
    }
  }
  for (size_t i = 0; i < count; ++i) done[count + i].state.store(Completion::kDone);
  fill(out, static_cast<int>(sequence) + rank);
  MPI_Barrier(MPI_COMM_WORLD);
  auto start = Clock::now();
  if (sends) {
    for (size_t i = 0; i < count; ++i) {
      transport.post_send(peer, tag.for_message(rank, i), out.data() + i * options.size, options.size,
                          &done[count + i]);
    }
  }
  if (!receives) {
    for (size_t i = 0; i < count; ++i) done[i].state.store(Completion::kDone);
  }
  drive(transport, done);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (receives) {
    std::vector<unsigned char> expected(in.size());
    fill(expected, static_cast<int>(sequence) + peer);
    if (std::memcmp(expected.data(), in.data(), count * options.size) != 0) {
      std::fprintf(stderr, "rank %d: wrong data in iteration %u\n", rank, sequence);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  double slowest = 0;
  MPI_Allreduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

void run_stream(Transport& transport, const Options& options) {
  std::vector<unsigned char> out(options.total), in(options.total);
  std::vector<double> gbits;
  double first = 0;  // on fresh connections: slow start included
  for (int i = 0; i < options.warmup + options.iters; ++i) {
    double seconds = stream_once(transport, options, static_cast<uint32_t>(i), out, in);
    double g = 8.0 * static_cast<double>(options.total) / seconds / 1e9;
    if (i == 0) first = g;
    if (i >= options.warmup) gbits.push_back(g);
  }
  if (transport.rank() != 0) return;
  std::sort(gbits.begin(), gbits.end());
  std::string all;
  for (double g : gbits) all += std::to_string(g).substr(0, 5) + " ";
  std::printf("stream lanes=%d size=%zu total=%zu bidir=%d: Gbit/s per direction median %.3f (all: %s) first %.3f\n",
              options.lanes, options.size, options.total, options.bidir, gbits[gbits.size() / 2], all.c_str(), first);
}

// Round trips of one message each way; prints the median and minimum.
void run_pingpong(Transport& transport, const Options& options) {
  const int rank = transport.rank(), peer = 1 - rank;
  std::vector<unsigned char> out(options.size, 1), in(options.size);
  std::vector<double> micros;
  for (int i = 0; i < options.warmup + options.iters; ++i) {
    std::vector<Completion> done(2);
    uint64_t tag = strata::runtime::WireTag{.comm_id = 2, .point_to_point = true, .sequence = static_cast<uint32_t>(i)}
                       .for_message(0, 0);
    MPI_Barrier(MPI_COMM_WORLD);
    auto start = Clock::now();
    if (rank == 0) {
      transport.post_send(peer, tag, out.data(), options.size, &done[0]);
      transport.post_recv(peer, tag + 1, in.data(), options.size, &done[1]);
    } else {
      transport.post_recv(peer, tag, in.data(), options.size, &done[1]);
      done[0].state.store(Completion::kDone);
      drive(transport, done);
      done[0].state.store(Completion::kPending);
      transport.post_send(peer, tag + 1, out.data(), options.size, &done[0]);
    }
    drive(transport, done);
    if (i >= options.warmup) micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  if (rank != 0) return;
  std::sort(micros.begin(), micros.end());
  std::printf("pingpong lanes=%d size=%zu: round trip median %.0f us, min %.0f us (%d reps)\n", options.lanes,
              options.size, micros[micros.size() / 2], micros.front(), options.iters);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  Options options = parse(argc, argv);
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != 2 || options.size == 0 || options.total < options.size || options.iters < 1) {
    std::fprintf(stderr, "usage: strata-lanes-bench stream|pingpong [--lanes N] [--size B] [--total B] "
                         "[--iters N] [--warmup N] [--bidir 0|1]   (exactly 2 ranks)\n");
    MPI_Finalize();
    return 2;
  }
  {
    strata::runtime::MpiBootstrap bootstrap(MPI_COMM_WORLD);
    // Between sites: network only; UCX_NET_DEVICES comes from the environment.
    strata::runtime::UcxTransportOptions transport_options{
        .allow_shared_memory = false, .timeout_s = 120, .network_devices = "", .lanes = options.lanes};
    auto transport = strata::runtime::create_ucx_transport(bootstrap, transport_options);
    if (options.mode == "pingpong") {
      run_pingpong(*transport, options);
    } else {
      run_stream(*transport, options);
    }
    MPI_Barrier(MPI_COMM_WORLD);  // both flush and close together
  }
  MPI_Finalize();
  return 0;
}
