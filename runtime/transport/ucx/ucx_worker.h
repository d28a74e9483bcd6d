// Owns one UCP context and one worker set up for tagged messages with
// wakeup, and exchanges worker addresses over a bootstrap.
#pragma once

#include <ucp/api/ucp.h>

#include <cstddef>
#include <vector>

#include "runtime/bootstrap/bootstrap.h"
#include "runtime/transport/ucx/process_identity.h"
#include "runtime/transport/ucx/ucx_transport.h"

namespace strata::runtime {

class UcxWorker {
 public:
  UcxWorker(const UcxTransportOptions& options, int rank);
  ~UcxWorker();
  UcxWorker(const UcxWorker&) = delete;
  UcxWorker& operator=(const UcxWorker&) = delete;

  ucp_worker_h get() const { return worker_; }
  int event_fd() const { return event_fd_; }

  // This worker's address, as peers need it for ucp_ep_create.
  std::vector<std::byte> address() const;

 private:
  int rank_;
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int event_fd_ = -1;  // owned by the worker
};

// What a rank needs to reach another and to watch over it.
struct PeerContact {
  std::vector<std::byte> address;  // of its worker
  ProcessIdentity process;
};

// Every rank's contact, indexed by rank. Addresses differ in length (one
// entry per network interface) but allgather needs equal lengths, so the
// lengths (with the process identities) go first and the addresses follow,
// padded to the longest.
std::vector<PeerContact> exchange_contacts(Bootstrap& bootstrap, const std::vector<std::byte>& my_address);

}  // namespace strata::runtime
