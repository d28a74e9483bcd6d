// strata-fault-drill: one fault in a job of AllReduce calls, and what every
// survivor saw (docs/reliability.md, scripts/bench-faults.sh).
//
//   mpirun --mca orte_enable_recovery 1 ... strata-fault-drill --fault kill --victim 5 --record /tmp/drill
//
// Every rank calls AllReduce (int32, checked exactly) `--calls` times. In
// call `--at`, a timer thread in the victim waits a random part of one
// call's time, writes "<pid> <wall-clock time>" to the record file and
// then kills (SIGKILL) or stops (SIGSTOP) its own process, so the fault
// lands inside the collective. Each survivor prints one JSON line: how
// long after the fault its call failed, whether the error names the
// victim, and how long destroying the communicator took. `--fault none`
// is the control: every call must complete and be exact. The first
// survivor to finish kills a stopped victim once every survivor has
// reported (files <record>.done.<rank>), so that the job ends.
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "runtime/bootstrap/mpi_bootstrap.h"
#include "runtime/communicator/communicator.h"

namespace {

using strata::DataType;
using strata::ReduceOp;
using strata::runtime::Communicator;

struct Options {
  std::string fault = "kill";  // kill, stop or none
  int victim = 1;
  uint64_t bytes = 16 << 20;
  int calls = 12;
  int at = 4;
  std::string record = "/tmp/strata-fault-drill";
};

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The victim's side: the fault lands `delay_s` into the call that follows.
void arm_fault(const Options& options, double delay_s) {
  std::thread([options, delay_s] {
    std::this_thread::sleep_for(std::chrono::duration<double>(delay_s));
    {
      std::ofstream out(options.record + ".tmp");
      out << fmt::format("{} {:.6f}\n", ::getpid(), wall_now());
    }
    std::filesystem::rename(options.record + ".tmp", options.record);
    ::raise(options.fault == "kill" ? SIGKILL : SIGSTOP);
  }).detach();
}

// The fault's pid and time, once the victim has written them (waits up to 5 s).
bool read_record(const std::string& path, long& pid, double& at) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    std::ifstream in(path);
    if (in >> pid >> at) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// After reporting: the lowest survivor ends a stopped victim once all have reported.
void finish_survivor(const Options& options, int rank, int nranks, long victim_pid) {
  std::ofstream(fmt::format("{}.done.{}", options.record, rank)) << "done\n";
  const int first = options.victim == 0 ? 1 : 0;
  if (rank != first || options.fault != "stop") return;
  for (int attempt = 0; attempt < 600; ++attempt) {  // up to a minute
    int done = 0;
    for (int other = 0; other < nranks; ++other) {
      done += std::filesystem::exists(fmt::format("{}.done.{}", options.record, other));
    }
    if (done >= nranks - 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(static_cast<pid_t>(victim_pid), SIGKILL);
}

int run(const Options& options, int rank, int nranks) {
  strata::runtime::MpiBootstrap bootstrap(MPI_COMM_WORLD);
  auto comm = Communicator::create(bootstrap, {"fault-drill"});
  const uint64_t count = options.bytes / sizeof(int32_t);
  std::vector<int32_t> send(count, rank + 1), recv(count);
  const int32_t expected = nranks * (nranks + 1) / 2;
  std::mt19937 random(static_cast<unsigned>(wall_now() * 1e6));
  double call_s = 0;
  for (int call = 0; call < options.calls; ++call) {
    if (call == options.at && rank == options.victim && options.fault != "none") {
      arm_fault(options, std::uniform_real_distribution<double>(0.05, 0.9)(random) * call_s);
    }
    const auto start = std::chrono::steady_clock::now();
    try {
      comm->all_reduce(send.data(), recv.data(), count, DataType::kInt32, ReduceOp::kSum);
    } catch (const std::exception& error) {
      const double failed_at = wall_now();
      long victim_pid = 0;
      double fault_at = 0;
      const bool recorded = read_record(options.record, victim_pid, fault_at);
      const std::string what = error.what();
      // "rank 5 of this communicator is gone" (a member) or "(peer 5)" (a transfer with it).
      const bool named = what.find(fmt::format("rank {} of", options.victim)) != std::string::npos ||
                         what.find(fmt::format("(peer {})", options.victim)) != std::string::npos;
      // On stderr first: a destroy that never returns would otherwise leave no trace of the detection.
      fmt::print(stderr, "strata-fault-drill rank {}: call {} failed {:.4f} s after the fault; destroying\n", rank,
                 call, recorded ? failed_at - fault_at : -1.0);
      std::fflush(stderr);
      const auto destroy_start = std::chrono::steady_clock::now();
      comm.reset();
      const double destroy_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - destroy_start).count();
      std::string quoted;
      for (char c : what) quoted += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c == '\n' ? ' ' : c);
      fmt::print("{{\"rank\": {}, \"fault\": \"{}\", \"victim\": {}, \"call\": {}, \"detect_s\": {:.4f}, "
                 "\"named\": {}, \"destroy_s\": {:.4f}, \"error\": \"{}\"}}\n",
                 rank, options.fault, options.victim, call, recorded ? failed_at - fault_at : -1.0,
                 named ? "true" : "false", destroy_s, quoted);
      std::fflush(stdout);
      finish_survivor(options, rank, nranks, victim_pid);
      return recorded && named ? 0 : 1;
    }
    call_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (uint64_t index = 0; index < count; ++index) {
      if (recv[index] != expected) {
        fmt::print(stderr, "rank {}: call {}: element {} is {}, not {}\n", rank, call, index, recv[index], expected);
        return 1;
      }
    }
  }
  fmt::print("{{\"rank\": {}, \"fault\": \"{}\", \"victim\": {}, \"completed\": {}, \"last_call_s\": {:.4f}}}\n", rank,
             options.fault, options.victim, options.calls, call_s);
  std::fflush(stdout);
  // A fault that nobody saw is a failure of the drill (a hang would time out instead).
  return options.fault == "none" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  Options options;
  CLI::App app{"strata-fault-drill: one fault inside a job of AllReduce calls"};
  app.add_option("--fault", options.fault, "kill, stop or none")->check(CLI::IsMember({"kill", "stop", "none"}));
  app.add_option("--victim", options.victim, "the rank that faults")->check(CLI::Range(0, nranks - 1));
  app.add_option("--bytes", options.bytes, "bytes per AllReduce")->check(CLI::Range(uint64_t{4}, uint64_t{1} << 32));
  app.add_option("--calls", options.calls, "AllReduce calls")->check(CLI::Range(1, 1 << 20));
  app.add_option("--at", options.at, "the call (from 0) the fault lands in; needs one call before it")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--record", options.record, "file the victim writes its pid and fault time to");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = rank == 0 ? app.exit(error) : 2;
    MPI_Finalize();
    return code;
  }
  int code = 1;
  try {
    code = run(options, rank, nranks);
  } catch (const std::exception& error) {
    fmt::print(stderr, "strata-fault-drill rank {}: {}\n", rank, error.what());
  }
  std::fflush(stdout);
  std::fflush(stderr);
  if (options.fault == "none" && code == 0) {
    MPI_Finalize();
    return 0;
  }
  _exit(code);  // MPI_Finalize with a dead rank would wait for it
}
