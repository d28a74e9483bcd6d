// Runs one function per rank of an in-process communicator, each on its own
// thread, as ncclCommInitAll users with one thread per device do.
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/communicator/communicator.h"

namespace strata::testing {

inline void on_every_rank(const std::vector<std::shared_ptr<runtime::Communicator>>& comms,
                          const std::function<void(runtime::Communicator&)>& body) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(comms.size());
  for (size_t i = 0; i < comms.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        body(*comms[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  for (auto& thread : threads) thread.join();
  for (auto& error : errors)
    if (error) std::rethrow_exception(error);
}

}  // namespace strata::testing
