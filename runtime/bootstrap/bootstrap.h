// Out-of-band exchange used once while a communicator is created (transport
// addresses, host identities). The data plane takes over afterwards.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace strata::runtime {

class Bootstrap {
 public:
  virtual ~Bootstrap() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Each rank contributes `mine` (the same length everywhere); every rank
  // gets all contributions concatenated in rank order. Throws Error(kTimeout)
  // if a rank does not arrive within the configured timeout.
  virtual std::vector<std::byte> allgather(std::span<const std::byte> mine) = 0;
};

}  // namespace strata::runtime
