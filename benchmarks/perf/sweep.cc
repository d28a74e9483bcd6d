#include "benchmarks/perf/sweep.h"

#include <mpi.h>

#include <chrono>

#include "benchmarks/perf/data_check.h"
#include "benchmarks/perf/mpi_baseline.h"
#include "common/error.h"

namespace strata::perf {

Sweep::Sweep(runtime::Communicator& comm, const PerfOptions& options, std::vector<std::string> algos)
    : comm_(&comm), options_(options), send_buffer_(options.max_bytes, options.node_shared),
      recv_buffer_(options.max_bytes, options.node_shared) {
  // "hier@int8": the algorithm on a communicator of its own with that wire
  // format, split off here on every rank alike.
  for (const std::string& name : algos) {
    const size_t at = name.find('@');
    Pass pass{name.substr(0, at), name.empty() ? "auto" : name, &comm, compression::Format::kNone};
    if (at != std::string::npos) {
      pass.format = *compression::parse_format(name.substr(at + 1));
      if (pass.algo == "auto") pass.algo.clear();
      auto& split = wire_comms_[pass.format];
      if (!split)
        split = comm.split(0, comm.rank(),
                           {.name = "strata-perf@" + std::string(compression::format_name(pass.format)),
                            .compression = std::string(compression::format_name(pass.format))});
      pass.comm = split.get();
    } else {
      pass.format = comm.wire_format();  // STRATA_COMPRESSION's
    }
    passes_.push_back(std::move(pass));
  }
}

void Sweep::run(Report& report) {
  const std::vector<Point> all = points();
  auto measure_as = [&](size_t algo, const Point& point) {
    pass_ = &passes_[algo];
    comm_ = pass_->comm;
    algo_ = pass_->algo;
    compare_mpi_ = options_.compare_mpi && algo == 0;
    report.add(measure_point(point.request, point.op));
  };
  if (options_.interleave) {
    for (const Point& point : all)
      for (size_t algo = 0; algo < passes_.size(); ++algo) measure_as(algo, point);
    return;
  }
  for (size_t algo = 0; algo < passes_.size(); ++algo)
    for (const Point& point : all) measure_as(algo, point);
}

std::vector<Sweep::Point> Sweep::points() const {
  const Collective collective = options_.collective;
  const std::vector<OpChoice> no_reduction{OpChoice::kSum};
  const std::vector<OpChoice>& ops = collective_reduces(collective) ? options_.ops : no_reduction;
  const std::vector<uint64_t> sizes = sweep_sizes(options_);
  std::vector<Point> out;
  for (DataType type : options_.types) {
    for (OpChoice op : ops) {
      for (int root : roots()) {
        uint64_t last_count = 0;
        for (uint64_t bytes : sizes) {
          // A size below one element per rank would be an empty call, and one
          // that rounds down to the previous point's count would repeat it.
          const auto request = request_for(collective, bytes, type, op, root, comm_->size());
          if (!request || request->count == last_count) continue;
          last_count = request->count;
          out.push_back({*request, op});
        }
      }
    }
  }
  return out;
}

std::vector<int> Sweep::roots() const {
  if (!collective_rooted(options_.collective)) return {0};
  if (options_.root >= 0) return {options_.root};
  std::vector<int> all(static_cast<size_t>(comm_->size()));
  for (int rank = 0; rank < comm_->size(); ++rank) all[static_cast<size_t>(rank)] = rank;
  return all;
}

Row Sweep::measure_point(const CollectiveRequest& request, OpChoice op) {
  Row row;
  row.request = request;
  row.op = op;
  row.requested_algo = pass_ ? pass_->label : algo_.empty() ? "auto" : algo_;
  row.plan = plan(request);
  if (pass_ && pass_->format != compression::Format::kNone)
    row.plan.algorithm += "@" + std::string(compression::format_name(pass_->format));
  if (options_.out_of_place) row.out_of_place = measure_strata(request, false, row);
  if (options_.in_place && collective_has_in_place(request.collective))
    row.in_place = measure_strata(request, true, row);
  if (compare_mpi_) row.mpi = measure_mpi(request, row);
  return row;
}

std::optional<Measurement> Sweep::measure_strata(const CollectiveRequest& request, bool in_place, Row& row) {
  const Placement placement = place(request, comm_->rank(), send_buffer_.data(), recv_buffer_.data(), in_place);
  return measure(strata_call(request, placement), request, placement, in_place ? "in-place" : "out-of-place",
                 row);
}

std::optional<Measurement> Sweep::measure_mpi(const CollectiveRequest& request, Row& row) {
  const Placement placement = place(request, comm_->rank(), send_buffer_.data(), recv_buffer_.data(), false);
  const auto call = mpi_call(request, placement, comm_->rank());
  if (!call) {
    row.notes.push_back("Open MPI N/A: the count does not fit MPI's int");
    return std::nullopt;
  }
  return measure(*call, request, placement, "Open MPI", row);
}

std::optional<Measurement> Sweep::measure(const Call& call, const CollectiveRequest& request, Placement placement,
                                          std::string_view variant, Row& row) {
  // The timed iterations start from valid inputs (a NaN or denormal could
  // slow a reduction down), not from what the previous point left behind.
  fill_input(request, comm_->rank(), 0, placement.send);
  if (!probe(call, variant, row)) return std::nullopt;
  Measurement measurement;
  measurement.seconds = time_call(call);
  if (options_.check) measurement.wrong = check_call(call, request, placement);
  return measurement;
}

// One untimed call that also finds out whether Strata accepts this variant
// at all (an in-place AlltoAll, or --algo naming an algorithm that cannot
// serve this size): argument errors come from local validation on every
// rank before any data moves, so all ranks agree without hanging.
bool Sweep::probe(const Call& call, std::string_view variant, Row& row) {
  int accepted = 1;
  std::string why = "refused on another rank";
  try {
    call();
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kInvalidArgument) throw;
    accepted = 0;
    why = error.what();
  }
  MPI_Allreduce(MPI_IN_PLACE, &accepted, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!accepted) row.notes.push_back(fmt::format("{} N/A: {}", variant, why));
  return accepted != 0;
}

// As nccl-tests: start together, warm up, time `iters` back-to-back calls
// and take the mean. Each call completes before it returns (host memory), so
// the clock covers whole operations. Ranks leave the loop at different
// times; the slowest rank's mean is the operation's time (nccl-tests
// averages over ranks instead, which reads lower when ranks are unbalanced).
double Sweep::time_call(const Call& call) const {
  MPI_Barrier(MPI_COMM_WORLD);
  for (int i = 0; i < options_.warmup_iters; ++i) call();
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options_.iters; ++i) call();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / options_.iters;
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return seconds;
}

// A fresh seed per check and a poisoned output make sure that the result
// was written by this call, not left over from the timed iterations. The
// poison goes first: an in-place input lives inside the output buffer.
uint64_t Sweep::check_call(const Call& call, const CollectiveRequest& request, Placement placement) {
  const uint64_t seed = ++seed_;
  poison(recv_buffer_.data(), reported_bytes(request));
  fill_input(request, comm_->rank(), seed, placement.send);
  MPI_Barrier(MPI_COMM_WORLD);
  call();
  const compression::Format format = pass_ ? pass_->format : compression::Format::kNone;
  uint64_t wrong = count_wrong(request, comm_->rank(), seed, placement.recv, lossy_tolerance(request, format));
  MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  return wrong;
}

Sweep::Call Sweep::strata_call(const CollectiveRequest& request, Placement placement) const {
  if (request.collective == Collective::kSend) {
    const int n = comm_->size();
    const int next = (comm_->rank() + 1) % n;
    const int previous = (comm_->rank() + n - 1) % n;
    return [this, request, placement, next, previous] {
      runtime::group_start();
      comm_->send(placement.send, request.count, request.dtype, next);
      comm_->recv(placement.recv, request.count, request.dtype, previous);
      runtime::group_end();
    };
  }
  const runtime::Operation operation{request, placement.send, placement.recv, algo_};
  return [this, operation] { comm_->run(operation); };
}

runtime::PlanChoice Sweep::plan(const CollectiveRequest& request) {
  if (request.collective == Collective::kSend) return {"p2p", 0, "ring shift of grouped send/recv"};
  const runtime::Operation operation{request, send_buffer_.data(), recv_buffer_.data(), algo_};
  try {
    return comm_->plan(operation);
  } catch (const Error& error) {
    return {"?", 0, error.what()};
  }
}

}  // namespace strata::perf
