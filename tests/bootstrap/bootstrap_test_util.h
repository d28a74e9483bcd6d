// Helpers shared by the bootstrap tests: run one function per rank on its own
// thread and collect what each threw.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <span>
#include <thread>
#include <vector>

namespace strata::runtime::testing {

// Runs fn(rank) for every rank on its own thread; returns each rank's exception (or null).
inline std::vector<std::exception_ptr> run_ranks(int nranks, const std::function<void(int)>& fn) {
  std::vector<std::exception_ptr> errors(nranks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < nranks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        fn(rank);
      } catch (...) {
        errors[rank] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return errors;
}

// What each rank contributes to round `round`: `bytes` bytes naming the rank and round.
inline std::vector<std::byte> contribution(int rank, int round, size_t bytes) {
  std::vector<std::byte> data(bytes);
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<std::byte>(rank * 31 + round * 7 + i);
  return data;
}

inline std::vector<std::byte> expected_allgather(int nranks, int round, size_t bytes) {
  std::vector<std::byte> all;
  for (int rank = 0; rank < nranks; ++rank) {
    auto part = contribution(rank, round, bytes);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace strata::runtime::testing
