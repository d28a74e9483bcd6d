// strata-perf's output: the nccl-tests-style table on stdout (rank 0) and the
// same results as JSON (--json).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "benchmarks/perf/layout.h"
#include "benchmarks/perf/options.h"
#include "runtime/communicator/communicator.h"

namespace strata::perf {

// One variant of one row: mean seconds per call (maximum over ranks) and
// wrong elements summed over ranks (nullopt: not checked, -c 0).
struct Measurement {
  double seconds = 0;
  std::optional<uint64_t> wrong;
};

struct Row {
  CollectiveRequest request;
  OpChoice op = OpChoice::kSum;
  std::string requested_algo;  // the --algo pass: "auto" or the forced algorithm
  runtime::PlanChoice plan;
  std::optional<Measurement> out_of_place;  // nullopt: not run, or not supported
  std::optional<Measurement> in_place;
  std::optional<Measurement> mpi;
  std::vector<std::string> notes;  // why a variant is missing
};

class Report {
 public:
  // Only the report with `prints` set writes anything.
  Report(const PerfOptions& options, int nranks, bool prints);

  void print_header(const std::vector<std::string>& rank_lines) const;
  void add(const Row& row);
  // Prints the totals; returns the wrong elements over every row and variant.
  uint64_t print_footer() const;
  void write_json() const;

 private:
  void print_row(const Row& row) const;

  const PerfOptions& options_;
  int nranks_;
  bool prints_;
  std::vector<Row> rows_;
};

}  // namespace strata::perf
