#include "runtime/transport/ucx/ucx_worker.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "common/error.h"
#include "common/message_limits.h"
#include "common/log.h"

namespace strata::runtime {
namespace {

// UCX's alias for every transport that moves bytes through memory shared
// between processes (posix, sysv, xpmem, knem, cma). Negating it, rather than
// listing tcp, keeps whatever network transports the machine has.
constexpr const char* kNoSharedMemoryTls = "^sm";

[[noreturn]] void fail_ucx(int rank, const char* call, ucs_status_t status) {
  fail(ErrorCode::kSystem, {rank, -1, "UCX transport setup"}, "{} failed: {}", call, ucs_status_string(status));
}

// The settings this transport imposes on top of UCX's (environment) defaults.
std::vector<std::pair<std::string, std::string>> config_overrides(const UcxTransportOptions& options) {
  std::vector<std::pair<std::string, std::string>> overrides;
  if (options.allow_shared_memory) {
    // In UCX 1.13 posix/sysv do not claim peer-failure support unless asked,
    // so with UCP_ERR_HANDLING_MODE_PEER endpoints (which we need to notice a
    // dead peer) UCX silently drops shared memory and uses tcp even on one host.
    overrides.emplace_back("MM_ERROR_HANDLING", "y");
  } else {
    overrides.emplace_back("TLS", kNoSharedMemoryTls);
  }
  if (!options.network_devices.empty()) overrides.emplace_back("NET_DEVICES", options.network_devices);
  // UCX's default sends messages above a few KiB by rendezvous (request,
  // reply, data): three one-way delays where eager takes one. Across a WAN
  // that is tens of milliseconds per message (measured: a 64 KiB round trip
  // at 20 ms RTT took 62 ms, 23 ms eager), so messages up to kEagerMessageBytes go
  // eagerly; hierarchical algorithms keep their WAN chunks within it. Above
  // it the receiver would have to buffer an early message whole
  // (common/message_limits.h). A UCX_RNDV_THRESH in the environment still wins.
  if (std::getenv("UCX_RNDV_THRESH") == nullptr)
    overrides.emplace_back("RNDV_THRESH", std::to_string(kEagerMessageBytes));
  // By default UCX 1.13 connects a tcp endpoint inside ucp_ep_create,
  // blocking for one round trip per connection: on the testbed, creating 4
  // endpoints to each of two peers took 162-324 ms (10 ms per endpoint at
  // 10 ms RTT, 50 ms at 50 ms), and a peer's first message waited for all of
  // them (docs/topology.md). Non-blocking, they connect in parallel while
  // the worker progresses. A UCX_TCP_CONN_NB in the environment still wins.
  // (The key has no TCP_ prefix: ucp_config_modify passes it on to each
  // transport's table, where "TCP_CONN_NB" matched nothing.)
  if (std::getenv("UCX_TCP_CONN_NB") == nullptr) overrides.emplace_back("CONN_NB", "y");
  // Keepalive is how UCX notices a dead peer: over tcp UCX 1.13 reports a
  // killed peer's closed sockets only when a keepalive round finds them
  // (measured: with UCX's 20 s default a SIGKILLed rank was first seen by
  // Strata's 10 s liveness check), and over shared memory nothing closes.
  // A round is one small message or a pid check per endpoint, so every
  // 250 ms costs nothing and keeps "a death is seen within 1 s".
  // A UCX_KEEPALIVE_INTERVAL in the environment still wins.
  if (std::getenv("UCX_KEEPALIVE_INTERVAL") == nullptr) overrides.emplace_back("KEEPALIVE_INTERVAL", "250ms");
  return overrides;
}

ucp_context_h create_context(const UcxTransportOptions& options, int rank) {
  ucp_config_t* config = nullptr;
  ucs_status_t status = ucp_config_read(nullptr, nullptr, &config);
  if (status != UCS_OK) fail_ucx(rank, "ucp_config_read", status);
  for (const auto& [name, value] : config_overrides(options)) {
    status = ucp_config_modify(config, name.c_str(), value.c_str());
    if (status != UCS_OK) {
      ucp_config_release(config);
      fail(ErrorCode::kSystem, {rank, -1, "UCX transport setup"}, "setting UCX {}={} failed: {}", name, value,
           ucs_status_string(status));
    }
  }
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
  params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
  params.mt_workers_shared = 0;
  ucp_context_h context = nullptr;
  status = ucp_init(&params, config, &context);
  ucp_config_release(config);
  if (status != UCS_OK) fail_ucx(rank, "ucp_init", status);
  return context;
}

}  // namespace

UcxWorker::UcxWorker(const UcxTransportOptions& options, int rank) : rank_(rank) {
  context_ = create_context(options, rank);
  // SERIALIZED: the transport's mutex admits one thread at a time, which is
  // all UCX needs, and spares the worker's internal locks.
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  params.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  ucs_status_t status = ucp_worker_create(context_, &params, &worker_);
  if (status != UCS_OK) {
    ucp_cleanup(context_);
    fail_ucx(rank, "ucp_worker_create", status);
  }
  status = ucp_worker_get_efd(worker_, &event_fd_);
  if (status != UCS_OK) {
    ucp_worker_destroy(worker_);
    ucp_cleanup(context_);
    fail_ucx(rank, "ucp_worker_get_efd", status);
  }
}

UcxWorker::~UcxWorker() {
  ucp_worker_destroy(worker_);
  ucp_cleanup(context_);
}

std::vector<std::byte> UcxWorker::address() const {
  ucp_address_t* address = nullptr;
  size_t length = 0;
  ucs_status_t status = ucp_worker_get_address(worker_, &address, &length);
  if (status != UCS_OK) fail_ucx(rank_, "ucp_worker_get_address", status);
  const auto* bytes = reinterpret_cast<const std::byte*>(address);
  std::vector<std::byte> copy(bytes, bytes + length);
  ucp_worker_release_address(worker_, address);
  return copy;
}

std::vector<PeerContact> exchange_contacts(Bootstrap& bootstrap, const std::vector<std::byte>& my_address) {
  struct Header {  // plain bytes, the same layout on every rank
    uint64_t address_bytes;
    ProcessIdentity process;
  };
  auto nranks = static_cast<size_t>(bootstrap.size());
  Header mine{my_address.size(), this_process_identity()};
  std::vector<std::byte> header_bytes = bootstrap.allgather(std::as_bytes(std::span(&mine, 1)));
  std::vector<Header> headers(nranks);
  std::memcpy(headers.data(), header_bytes.data(), nranks * sizeof(Header));
  size_t longest = 0;
  for (const Header& header : headers) longest = std::max<size_t>(longest, header.address_bytes);

  std::vector<std::byte> padded(longest);
  std::copy(my_address.begin(), my_address.end(), padded.begin());
  std::vector<std::byte> all = bootstrap.allgather(padded);
  std::vector<PeerContact> contacts(nranks);
  for (size_t rank = 0; rank < nranks; ++rank) {
    auto begin = all.begin() + static_cast<ptrdiff_t>(rank * longest);
    contacts[rank].address.assign(begin, begin + static_cast<ptrdiff_t>(headers[rank].address_bytes));
    contacts[rank].process = headers[rank].process;
  }
  return contacts;
}

}  // namespace strata::runtime
