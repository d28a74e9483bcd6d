#include "runtime/bootstrap/tcp_bootstrap.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "common/error.h"
#include "common/log.h"
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

  // The handshake (join_auth.h): answers the root's challenge and checks the
  // root's proof. Throws like allgather, with the root's verdict when it refuses.
  void join(const JobSecret& secret, uint64_t session_key, net::Deadline deadline);

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

void TcpBootstrap::join(const JobSecret& secret, uint64_t session_key, net::Deadline deadline) {
  std::byte challenge[wire::kChallengeBytes];
  auto status = net::read_all(socket_.get(), challenge, sizeof(challenge), deadline);
  if (status != net::IoStatus::kOk) fail_io(status, "waiting for the root's challenge");
  std::optional<JoinNonce> root_nonce = wire::decode_challenge(challenge);
  if (!root_nonce) {
    fail_broken(ErrorCode::kRemote, fmt::format("the process at {} is not a Strata bootstrap root of this version "
                                                "(its first bytes are no challenge)", root_text_));
  }
  wire::Hello hello{wire::kMagic, session_key, rank_, nranks_, random_join_nonce()};
  hello.proof = rank_join_proof(secret, *root_nonce, hello.nonce, session_key, rank_, nranks_);
  std::byte bytes[wire::kHelloBytes];
  wire::encode_hello(hello, bytes);
  status = net::write_all(socket_.get(), bytes, sizeof(bytes), deadline);
  // A refused hello is answered with the reason: read it even when the write failed.
  std::vector<std::byte> welcome = read_reply(deadline);
  if (status != net::IoStatus::kOk) fail_io(status, "saying hello");
  JoinProof expected = root_join_proof(secret, *root_nonce, hello.nonce, session_key);
  if (welcome.size() != expected.size() ||
      !join_proofs_equal(expected, *reinterpret_cast<const JoinProof*>(welcome.data()))) {
    fail_broken(ErrorCode::kRemote, fmt::format("the bootstrap root at {} did not prove it knows the job secret "
                                                "(a root of another job on this address?)", root_text_));
  }
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

// The process warns once for each way its joins go unauthenticated.
void warn_unauthenticated_once(bool explicit_off) {
  static std::atomic<bool> warned_off{false}, warned_derived{false};
  if (explicit_off && !warned_off.exchange(true)) {
    log(LogLevel::kWarn, "STRATA_AUTH=off: bootstrap joins are not authenticated; anyone who reaches the root's "
                         "port can join this job");
  }
  if (!explicit_off && !warned_derived.exchange(true)) {
    log(LogLevel::kWarn, "a rendezvous at a known address with no STRATA_AUTH_KEY_FILE has no channel for a job "
                         "secret: bootstrap joins are not authenticated (docs/security.md)");
  }
}

// How a new id's ranks will prove themselves.
wire::RootAddress join_fields(wire::RootAddress root, const JoinPolicy& policy, bool id_can_carry_secret) {
  if (!policy.authenticate) {
    root.mode = JoinMode::kOff;
    warn_unauthenticated_once(true);
  } else if (policy.key_file_secret) {
    root.mode = JoinMode::kKeyFile;
  } else if (id_can_carry_secret) {
    root.mode = JoinMode::kSecretInId;
    root.secret = random_job_secret();
  } else {
    root.mode = JoinMode::kOff;
    warn_unauthenticated_once(false);
  }
  return root;
}

wire::RootAddress decode_or_fail(const UniqueId& id, const ErrorContext& context) {
  std::optional<wire::RootAddress> root = wire::decode_unique_id(id);
  if (!root) fail(ErrorCode::kInvalidArgument, context, "{}", wire::unique_id_problem(id));
  return *root;
}

}  // namespace

JobSecret join_secret(const UniqueId& id, const JoinPolicy& policy, int rank) {
  ErrorContext context{rank, -1, "job secret"};
  wire::RootAddress root = decode_or_fail(id, context);
  switch (root.mode) {
    case JoinMode::kSecretInId: return root.secret;
    case JoinMode::kOff: return JobSecret{};
    case JoinMode::kKeyFile:
      if (!policy.key_file_secret) {
        fail(ErrorCode::kInvalidArgument, context,
             "the unique id says the job secret comes from STRATA_AUTH_KEY_FILE, which is not set on this rank");
      }
      return *policy.key_file_secret;
  }
  fail(ErrorCode::kInternal, context, "unknown join mode");
}

UniqueId create_unique_id(const std::string& ifname, double timeout_s, const JoinPolicy& policy) {
  wire::RootAddress root;
  root.address = net::pick_interface_address(ifname);
  net::Fd listener = net::listen_on_port(&root.port);
  root.session_key = random_session_key();
  root = join_fields(root, policy, true);
  UniqueId id = wire::encode_unique_id(root);
  start_tcp_bootstrap_root(std::move(listener), root.session_key, join_secret(id, policy, -1),
                           root_timeout_s(timeout_s));
  return id;
}

UniqueId unique_id_at(const std::string& host, uint16_t port, uint64_t session_key, const JoinPolicy& policy) {
  if (port == 0) fail(ErrorCode::kInvalidArgument, {-1, -1, "bootstrap address"}, "port 0 names no root");
  wire::RootAddress root{net::resolve_ipv4(host), port, session_key};
  return wire::encode_unique_id(join_fields(root, policy, false));
}

void start_root_for(const UniqueId& id, double timeout_s, const JoinPolicy& policy) {
  wire::RootAddress root = decode_or_fail(id, {-1, -1, "bootstrap root"});
  JobSecret secret = join_secret(id, policy, -1);
  net::Fd listener = net::listen_on_port(&root.port);
  start_tcp_bootstrap_root(std::move(listener), root.session_key, secret, root_timeout_s(timeout_s));
}

std::unique_ptr<Bootstrap> connect_tcp_bootstrap(const UniqueId& id, int rank, int nranks, double timeout_s,
                                                 const JoinPolicy& policy) {
  ErrorContext context{rank, -1, "bootstrap connect"};
  wire::RootAddress root = decode_or_fail(id, context);
  JobSecret secret = join_secret(id, policy, rank);
  std::string root_text = net::format_address(root.address, root.port);

  net::Deadline deadline = net::deadline_after(timeout_s);
  net::Fd socket = net::connect_until(root.address, root.port, deadline);
  if (!socket.valid()) {
    fail(ErrorCode::kTimeout, context, "could not connect to the bootstrap root at {} within {:.3g} s", root_text,
         timeout_s);
  }
  auto bootstrap = std::make_unique<TcpBootstrap>(std::move(socket), std::move(root_text), rank, nranks, timeout_s);
  // Validation of ranks and nranks is the root's: its verdict arrives with the first round.
  bootstrap->join(secret, root.session_key, deadline);
  return bootstrap;
}

int active_tcp_bootstrap_roots() { return active_tcp_bootstrap_root_count(); }

}  // namespace strata::runtime
