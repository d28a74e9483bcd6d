#include "runtime/bootstrap/tcp_bootstrap.h"

#include <cerrno>
#include <cstring>
#include <random>

#include "common/error.h"
#include "runtime/bootstrap/socket_io.h"
#include "runtime/bootstrap/tcp_bootstrap_root.h"
#include "runtime/bootstrap/tcp_bootstrap_wire.h"

namespace strata::runtime {
namespace {

// The root answers within its own timeout, which is this much shorter than
// the ranks', so a rank hears the root's account of who is missing before
// its own clock runs out.
double root_timeout_s(double timeout_s) { return timeout_s - std::min(0.1 * timeout_s, 1.0); }

uint64_t random_session_key() {
  std::random_device device;  // /dev/urandom: keys of concurrent runs must not collide
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

class TcpBootstrap final : public Bootstrap {
 public:
  TcpBootstrap(net::Fd socket, std::string root_text, int rank, int nranks, double timeout_s)
      : socket_(std::move(socket)), root_text_(std::move(root_text)), rank_(rank), nranks_(nranks),
        timeout_s_(timeout_s) {}

  int rank() const override { return rank_; }
  int size() const override { return nranks_; }
  std::vector<std::byte> allgather(std::span<const std::byte> mine) override;

 private:
  ErrorContext context() const { return {rank_, -1, "bootstrap allgather"}; }
  [[noreturn]] void fail_io(net::IoStatus status, const char* step);
  [[noreturn]] void fail_broken(ErrorCode code, std::string message);
  std::vector<std::byte> read_reply(net::Deadline deadline);

  net::Fd socket_;
  std::string root_text_;
  int rank_;
  int nranks_;
  double timeout_s_;
  uint64_t round_ = 0;
  std::optional<Error> broken_;  // once a round failed, every later call repeats why
};

void TcpBootstrap::fail_broken(ErrorCode code, std::string message) {
  // Hang up at once: the root is waiting for this rank to go before it exits.
  socket_.reset();
  broken_ = Error(code, std::move(message), context());
  throw *broken_;
}

void TcpBootstrap::fail_io(net::IoStatus status, const char* step) {
  if (status == net::IoStatus::kTimeout) {
    fail_broken(ErrorCode::kTimeout, fmt::format("no answer from the bootstrap root at {} within {:.3g} s in round {} "
                                                 "({})", root_text_, timeout_s_, round_, step));
  }
  fail_broken(ErrorCode::kRemote, fmt::format("bootstrap root at {}: {} while {} in round {}{}", root_text_,
                                              net::io_status_text(status), step, round_,
                                              status == net::IoStatus::kError ? std::string(": ") + std::strerror(errno)
                                                                              : std::string()));
}

std::vector<std::byte> TcpBootstrap::read_reply(net::Deadline deadline) {
  std::byte header[wire::kReplyHeaderBytes];
  auto status = net::read_all(socket_.get(), header, sizeof(header), deadline);
  if (status != net::IoStatus::kOk) fail_io(status, "waiting for the other ranks");
  std::optional<ErrorCode> code = wire::decode_status(wire::get_u32(header));
  uint64_t length = wire::get_u64(header + 4);
  if (length > wire::kMaxContributionBytes * static_cast<uint64_t>(std::max(nranks_, 1))) {
    fail_broken(ErrorCode::kRemote, fmt::format("bootstrap root sent a {}-byte reply", length));
  }
  std::vector<std::byte> body(length);
  status = net::read_all(socket_.get(), body.data(), body.size(), deadline);
  if (status != net::IoStatus::kOk) fail_io(status, "reading the answer");
  if (code) fail_broken(*code, std::string(reinterpret_cast<const char*>(body.data()), body.size()));
  return body;
}

std::vector<std::byte> TcpBootstrap::allgather(std::span<const std::byte> mine) {
  if (broken_) throw *broken_;
  net::Deadline deadline = net::deadline_after(timeout_s_);
  std::byte header[wire::kLengthBytes];
  wire::put_u64(header, mine.size());
  auto status = net::write_all(socket_.get(), header, sizeof(header), deadline);
  if (status == net::IoStatus::kOk) status = net::write_all(socket_.get(), mine.data(), mine.size(), deadline);
  // A failed send may be the root hanging up after an error it already sent: read that first.
  std::vector<std::byte> all = read_reply(deadline);
  if (status != net::IoStatus::kOk) fail_io(status, "sending this rank's contribution");
  if (all.size() != mine.size() * static_cast<size_t>(nranks_)) {
    fail_broken(ErrorCode::kInvalidArgument,
                fmt::format("round {}: expected {} ranks x {} bytes from the bootstrap root, got {} bytes", round_,
                            nranks_, mine.size(), all.size()));
  }
  ++round_;
  return all;
}

}  // namespace

UniqueId create_unique_id(const std::string& ifname, double timeout_s) {
  wire::RootAddress root;
  root.address = net::pick_interface_address(ifname);
  net::Fd listener = net::listen_on_port(&root.port);
  root.session_key = random_session_key();
  start_tcp_bootstrap_root(std::move(listener), root.session_key, root_timeout_s(timeout_s));
  return wire::encode_unique_id(root);
}

UniqueId unique_id_at(const std::string& host, uint16_t port, uint64_t session_key) {
  if (port == 0) fail(ErrorCode::kInvalidArgument, {-1, -1, "bootstrap address"}, "port 0 names no root");
  return wire::encode_unique_id({net::resolve_ipv4(host), port, session_key});
}

void start_root_for(const UniqueId& id, double timeout_s) {
  std::optional<wire::RootAddress> root = wire::decode_unique_id(id);
  if (!root) fail(ErrorCode::kInvalidArgument, {-1, -1, "bootstrap root"}, "not a Strata unique id (wrong magic)");
  net::Fd listener = net::listen_on_port(&root->port);
  start_tcp_bootstrap_root(std::move(listener), root->session_key, root_timeout_s(timeout_s));
}

std::unique_ptr<Bootstrap> connect_tcp_bootstrap(const UniqueId& id, int rank, int nranks, double timeout_s) {
  ErrorContext context{rank, -1, "bootstrap connect"};
  std::optional<wire::RootAddress> root = wire::decode_unique_id(id);
  if (!root) fail(ErrorCode::kInvalidArgument, context, "not a Strata unique id (wrong magic)");
  std::string root_text = net::format_address(root->address, root->port);

  net::Deadline deadline = net::deadline_after(timeout_s);
  net::Fd socket = net::connect_until(root->address, root->port, deadline);
  if (!socket.valid()) {
    fail(ErrorCode::kTimeout, context, "could not connect to the bootstrap root at {} within {:.3g} s", root_text,
         timeout_s);
  }
  std::byte hello[wire::kHelloBytes];
  wire::encode_hello(wire::Hello{wire::kMagic, root->session_key, rank, nranks}, hello);
  auto status = net::write_all(socket.get(), hello, sizeof(hello), deadline);
  if (status != net::IoStatus::kOk) {
    fail(ErrorCode::kRemote, context, "bootstrap root at {}: {} while saying hello", root_text,
         net::io_status_text(status));
  }
  // Validation (ranks, nranks, session key) is the root's: its verdict arrives with the first round.
  return std::make_unique<TcpBootstrap>(std::move(socket), std::move(root_text), rank, nranks, timeout_s);
}

int active_tcp_bootstrap_roots() { return active_tcp_bootstrap_root_count(); }

}  // namespace strata::runtime
