// Compressed AllReduce through the C++ API under mpirun (two fake sites):
// every rank ends with the same bits, small calls stay exact, error
// feedback removes the bias that plain int4 keeps (the negative control),
// a caller's state is checked, and ranks that disagree on the settings fail
// at creation with an error that names the rank, instead of mis-decoding.
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/bootstrap/mpi_bootstrap.h"
#include "runtime/communicator/communicator.h"
#include "tests/support/mpi_test_main.h"

namespace strata::testing {
namespace {

using runtime::Communicator;

int g_rank = 0, g_size = 1;

int expect(bool ok, const std::string& what) {
  if (!ok) std::fprintf(stderr, "rank %d: %s\n", g_rank, what.c_str());
  return ok ? 0 : 1;
}

std::vector<float> input(uint64_t count, int rank) {
  std::mt19937 rng(100 + rank);
  std::normal_distribution<float> value(0.0f, 1.0f);
  std::vector<float> data(count);
  for (float& v : data) v = value(rng);
  return data;
}

// Whether every rank holds the same bytes as rank 0.
bool same_everywhere(const std::vector<float>& data) {
  std::vector<float> zero = data;
  MPI_Bcast(zero.data(), static_cast<int>(zero.size()), MPI_FLOAT, 0, MPI_COMM_WORLD);
  int same = std::memcmp(zero.data(), data.data(), data.size() * 4) == 0;
  MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return same != 0;
}

std::vector<double> exact_sum(uint64_t count) {
  std::vector<double> sum(count, 0.0);
  for (int r = 0; r < g_size; ++r) {
    const std::vector<float> x = input(count, r);
    for (uint64_t i = 0; i < count; ++i) sum[i] += x[i];
  }
  return sum;
}

std::shared_ptr<Communicator> with(Communicator& world, const std::string& format) {
  return world.split(0, world.rank(), {.name = "wire-" + format, .compression = format});
}

int identical_bits_and_small_calls_exact(Communicator& world) {
  int problems = 0;
  const auto exact = with(world, "none");
  for (const char* format : {"bf16", "int8", "fp8-e4m3", "int4", "zstd", "bf16+zstd"}) {
    const auto comm = with(world, format);
    problems += expect(comm->compression().find(format) == 0, "compression() = " + comm->compression());
    const uint64_t count = 1 << 20;  // 4 MiB: above the 1 MiB threshold
    const std::vector<float> x = input(count, world.rank());
    std::vector<float> got(count);
    comm->all_reduce(x.data(), got.data(), count, DataType::kFloat32, ReduceOp::kSum);
    problems += expect(same_everywhere(got), std::string(format) + ": ranks hold different bits");
    const std::vector<double> want = exact_sum(count);
    double worst = 0;
    for (uint64_t i = 0; i < count; ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
    const bool lossless = std::string(format) == "zstd";
    problems += expect(lossless ? worst < 1e-5 : worst > 0, std::string(format) + ": error " + std::to_string(worst));
    // Below the threshold: the same bits as the exact communicator.
    const uint64_t small = 1000;
    std::vector<float> a(small), b(small);
    comm->all_reduce(x.data(), a.data(), small, DataType::kFloat32, ReduceOp::kSum);
    exact->all_reduce(x.data(), b.data(), small, DataType::kFloat32, ReduceOp::kSum);
    problems += expect(a == b, std::string(format) + ": a 4000-byte call was not exact");
  }
  return problems;
}

// int4 rounds a fixed input the same way every call: without feedback the
// mean over calls keeps that error; with feedback it shrinks like 1/calls.
int error_feedback_removes_the_bias(Communicator& world) {
  const auto comm = with(world, "int4");
  const uint64_t count = 1 << 18;
  const std::vector<float> x = input(count, world.rank());
  const std::vector<double> want = exact_sum(count);
  runtime::ErrorFeedback state;
  std::vector<double> fed(count, 0.0), plain(count, 0.0);
  std::vector<float> out(count);
  constexpr int kCalls = 100;
  for (int call = 0; call < kCalls; ++call) {
    comm->all_reduce(x.data(), out.data(), count, DataType::kFloat32, ReduceOp::kSum, state);
    for (uint64_t i = 0; i < count; ++i) fed[i] += out[i];
    comm->all_reduce(x.data(), out.data(), count, DataType::kFloat32, ReduceOp::kSum);
    for (uint64_t i = 0; i < count; ++i) plain[i] += out[i];
  }
  double fed_error = 0, plain_error = 0;
  for (uint64_t i = 0; i < count; ++i) {
    fed_error += std::fabs(fed[i] / kCalls - want[i]);
    plain_error += std::fabs(plain[i] / kCalls - want[i]);
  }
  fed_error /= count, plain_error /= count;
  if (world.rank() == 0)
    std::printf("int4 mean error over %d calls: %.5f with feedback, %.5f without\n", kCalls, fed_error, plain_error);
  int problems = expect(fed_error * 10 < plain_error, "feedback did not cut the mean error tenfold");
  problems += expect(state.count() == count, "the state holds " + std::to_string(state.count()) + " values");
  // One state per tensor: another count (compressed too) is refused, naming the argument.
  try {
    std::vector<float> other(count * 8, 1.0f);
    comm->all_reduce(other.data(), other.data(), other.size(), DataType::kFloat32, ReduceOp::kSum, state);
    problems += expect(false, "a state of another count was accepted");
  } catch (const Error& error) {
    problems += expect(error.code() == ErrorCode::kInvalidArgument &&
                           std::string(error.what()).find("error_feedback") != std::string::npos,
                       std::string("wrong error: ") + error.what());
  }
  return problems;
}

int disagreement_fails_at_creation(Communicator& world) {
  int problems = 0;
  try {
    with(world, world.rank() == 1 ? "bf16" : "int8");
    problems += expect(false, "ranks with different formats got a communicator");
  } catch (const Error& error) {
    const std::string what = error.what();
    problems += expect(error.code() == ErrorCode::kInvalidArgument && what.find("disagree") != std::string::npos &&
                           what.find("rank 1") != std::string::npos,
                       "wrong error: " + what);
  }
  try {
    with(world, "int3");
    problems += expect(false, "an unknown format was accepted");
  } catch (const Error& error) {
    problems += expect(std::string(error.what()).find("compression='int3'") != std::string::npos,
                       std::string("wrong error: ") + error.what());
  }
  return problems;
}

}  // namespace
}  // namespace strata::testing

int main(int argc, char** argv) {
  using namespace strata::testing;
  return mpi_test_main(&argc, &argv, "compressed_mpi_test", [] {
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    strata::runtime::MpiBootstrap bootstrap(MPI_COMM_WORLD);
    const auto world = strata::runtime::Communicator::create(bootstrap, {.name = "world"});
    int problems = identical_bits_and_small_calls_exact(*world);
    problems += error_feedback_removes_the_bias(*world);
    problems += disagreement_fails_at_creation(*world);
    return problems;
  });
}
