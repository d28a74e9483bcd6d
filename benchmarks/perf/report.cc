#include "benchmarks/perf/report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

#include "common/error.h"

namespace strata::perf {
namespace {

// nccl-tests reports GB/s with 1 GB = 1e9 bytes.
constexpr double kBytesPerGB = 1e9;

struct Bandwidth {
  double algbw_gbps;
  double busbw_gbps;
};

Bandwidth bandwidth(const CollectiveRequest& request, double seconds) {
  const double algbw = seconds > 0 ? static_cast<double>(reported_bytes(request)) / kBytesPerGB / seconds : 0;
  return {algbw, algbw * bus_factor(request.collective, request.nranks)};
}

// nccl-tests narrows the time column's precision as it grows so that it
// stays 7 characters wide.
std::string format_time_us(double seconds) {
  const double us = seconds * 1e6;
  if (us >= 1e5) return fmt::format("{:7.0f}", us);
  if (us >= 1e4) return fmt::format("{:7.1f}", us);
  return fmt::format("{:7.2f}", us);
}

std::string format_variant(const CollectiveRequest& request, const std::optional<Measurement>& m) {
  if (!m) return fmt::format("  {:>7}  {:>6}  {:>6}  {:>6}", "N/A", "N/A", "N/A", "N/A");
  const Bandwidth bw = bandwidth(request, m->seconds);
  const std::string wrong = m->wrong ? fmt::format("{}", *m->wrong) : "N/A";
  return fmt::format("  {}  {:6.2f}  {:6.2f}  {:>6}", format_time_us(m->seconds), bw.algbw_gbps, bw.busbw_gbps,
                     wrong);
}

std::string redop_column(const Row& row) {
  return collective_reduces(row.request.collective) ? std::string(op_choice_name(row.op)) : "none";
}

int root_column(const CollectiveRequest& request) {
  return collective_rooted(request.collective) ? request.root : -1;
}

nlohmann::ordered_json variant_json(const CollectiveRequest& request, const std::optional<Measurement>& m) {
  if (!m) return nullptr;
  const Bandwidth bw = bandwidth(request, m->seconds);
  nlohmann::ordered_json out{{"time_us", m->seconds * 1e6}, {"algbw_gbps", bw.algbw_gbps}, {"busbw_gbps", bw.busbw_gbps}};
  out["wrong"] = m->wrong ? nlohmann::ordered_json(*m->wrong) : nlohmann::ordered_json(nullptr);
  return out;
}

nlohmann::ordered_json row_json(const Row& row) {
  const CollectiveRequest& r = row.request;
  return {{"bytes", reported_bytes(r)},
          {"count", reported_bytes(r) / datatype_size(r.dtype)},
          {"type", datatype_name(r.dtype)},
          {"redop", redop_column(row)},
          {"root", root_column(r)},
          {"requested_algo", row.requested_algo},
          {"algorithm", row.plan.algorithm},
          {"predicted_us", row.plan.predicted_seconds * 1e6},
          {"plan_reason", row.plan.reason},
          {"oop", variant_json(r, row.out_of_place)},
          {"ip", variant_json(r, row.in_place)},
          {"mpi", variant_json(r, row.mpi)}};
}

void add_wrong(uint64_t& total, const std::optional<Measurement>& m) {
  if (m && m->wrong) total += *m->wrong;
}

}  // namespace

Report::Report(const PerfOptions& options, int nranks, bool prints)
    : options_(options), nranks_(nranks), prints_(prints) {}

void Report::print_header(const std::vector<std::string>& rank_lines) const {
  if (!prints_) return;
  const PerfOptions& o = options_;
  fmt::print("# strata-perf {}: nranks {} minBytes {} maxBytes {} step: {}({}) warmup iters: {} iters: {} "
             "validation: {}{}\n#\n# Using devices\n",
             perf_collective_name(o.collective), nranks_, o.min_bytes, o.max_bytes,
             o.step_bytes > 0 ? o.step_bytes : o.step_factor, o.step_bytes > 0 ? "bytes" : "factor", o.warmup_iters,
             o.iters, o.check, o.algo.empty() ? "" : fmt::format(" algo: {}", o.algo));
  for (const std::string& line : rank_lines) fmt::print("{}\n", line);
  // Column layout: 55 characters of row header, then 33 per variant.
  const std::string mpi = o.compare_mpi ? fmt::format("{:^33}", "Open MPI") : "";
  fmt::print("#\n#{:54}{:^33}{:^33}{}\n", "", "out-of-place", "in-place", mpi);
  const std::string names = "     time   algbw   busbw  #wrong";
  const std::string units = "     (us)  (GB/s)  (GB/s)        ";
  fmt::print("# {:>10}  {:>12}  {:>8}  {:>9}  {:>6}{}{}{}  algorithm\n", "size", "count", "type", "redop", "root",
             names, names, o.compare_mpi ? names : "");
  fmt::print("# {:>10}  {:>12}  {:>8}  {:>9}  {:>6}{}{}{}\n", "(B)", "(elements)", "", "", "", units, units,
             o.compare_mpi ? units : "");
  std::fflush(stdout);
}

void Report::add(const Row& row) {
  rows_.push_back(row);
  if (prints_) print_row(row);
}

void Report::print_row(const Row& row) const {
  const CollectiveRequest& r = row.request;
  if (options_.explain)
    fmt::print("#  plan {} B: {} predicted {:.2f} us: {}\n", reported_bytes(r), row.plan.algorithm,
               row.plan.predicted_seconds * 1e6, row.plan.reason);
  for (const std::string& note : row.notes) fmt::print("#  {}\n", note);
  std::string line = fmt::format("{:>12}  {:>12}  {:>8}  {:>9}  {:>6}", reported_bytes(r),
                                 reported_bytes(r) / datatype_size(r.dtype), datatype_name(r.dtype), redop_column(row),
                                 root_column(r));
  line += format_variant(r, row.out_of_place);
  line += format_variant(r, row.in_place);
  if (options_.compare_mpi) line += format_variant(r, row.mpi);
  fmt::print("{}  {}\n", line, row.plan.algorithm);
  std::fflush(stdout);
}

uint64_t Report::print_footer() const {
  uint64_t wrong = 0;
  double busbw_sum = 0, mpi_busbw_sum = 0;
  int busbw_count = 0, mpi_count = 0;
  for (const Row& row : rows_) {
    for (const auto* m : {&row.out_of_place, &row.in_place}) {
      add_wrong(wrong, *m);
      if (*m) busbw_sum += bandwidth(row.request, (*m)->seconds).busbw_gbps, ++busbw_count;
    }
    add_wrong(wrong, row.mpi);
    if (row.mpi) mpi_busbw_sum += bandwidth(row.request, row.mpi->seconds).busbw_gbps, ++mpi_count;
  }
  if (!prints_) return wrong;
  fmt::print("# Wrong elements : {} {}\n", wrong, wrong == 0 ? "OK" : "FAILED");
  fmt::print("# Avg bus bandwidth    : {:g}\n", busbw_count ? busbw_sum / busbw_count : 0.0);
  if (options_.compare_mpi)
    fmt::print("# Avg bus bandwidth (Open MPI) : {:g}\n", mpi_count ? mpi_busbw_sum / mpi_count : 0.0);
  fmt::print("#\n");
  std::fflush(stdout);
  return wrong;
}

void Report::write_json() const {
  if (!prints_ || options_.json_path.empty()) return;
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const Row& row : rows_) results.push_back(row_json(row));
  const nlohmann::ordered_json document{{"collective", perf_collective_name(options_.collective)},
                                {"nranks", nranks_},
                                {"iters", options_.iters},
                                {"warmup_iters", options_.warmup_iters},
                                {"check", options_.check},
                                {"algo", options_.algo},
                                {"results", results}};
  std::ofstream out(options_.json_path);
  out << document.dump(2) << "\n";
  if (!out) fail(ErrorCode::kSystem, {}, "cannot write --json file '{}'", options_.json_path);
}

}  // namespace strata::perf
