#include "runtime/bootstrap/tcp_bootstrap_root.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "common/log.h"
#include "runtime/bootstrap/tcp_bootstrap_wire.h"

namespace strata::runtime {
namespace {

using net::Clock;
using net::Deadline;

std::atomic<int> g_active_roots{0};

// A connection that has not proved itself is dropped this soon, and no more
// than this many wait at once, so slow or flooding strangers cannot starve
// the ranks of file descriptors.
constexpr double kHelloTimeoutS = 5.0;
// (Strangers include ranks between connecting and their hello, so the cap
// grows with the job.)
constexpr size_t kMaxStrangers = 1024;

struct Connection {
  net::Fd fd;
  std::string address;         // the peer's, for the log
  JoinNonce nonce{};           // this connection's challenge
  Deadline hello_deadline{};   // until authenticated
  bool authenticated = false;  // proved the job secret and presented the session key
  int rank = -1;               // set by a valid hello
  std::vector<std::byte> input;
  std::vector<std::byte> output;
  size_t output_sent = 0;
  bool closing = false;     // send what is queued, then shut down
  Deadline drop_deadline{};  // closing: dropped by then even if the rank never reads
  bool dead = false;         // to be dropped
};

enum class RankState : uint8_t { kAbsent, kConnected, kGone };

struct Failure {
  ErrorCode code;
  std::string message;
};

// Single-threaded poll loop over the listener and every rank's connection.
// Sockets are non-blocking; all waiting happens in the one poll() call, whose
// timeout is the nearest deadline, so the service cannot hang.
class RootService {
 public:
  RootService(net::Fd listener, uint64_t session_key, const JobSecret& secret, double timeout_s)
      : listener_(std::move(listener)), session_key_(session_key), secret_(secret), round_timeout_s_(timeout_s) {
    round_deadline_ = net::deadline_after(round_timeout_s_);
  }

  void run();

 private:
  void accept_connections();
  void read_from(Connection& connection);
  void write_to(Connection& connection);
  void parse_input(Connection& connection);
  void on_hello(Connection& connection, const wire::Hello& hello);
  std::optional<std::string> refusal(const Connection& connection, const wire::Hello& hello) const;
  void note_refusal(const Connection& connection, const std::string& why);
  void refuse_stranger(Connection& connection, const std::string& why);
  void limit_strangers();
  void admit(Connection& connection, const wire::Hello& hello);
  void on_contribution(Connection& connection, std::vector<std::byte> data);
  void on_disconnect(Connection& connection);
  void complete_round();
  void fail_session(ErrorCode code, std::string message);
  void queue_reply(Connection& connection, std::optional<ErrorCode> code, std::span<const std::byte> body);
  void close_after_reply(Connection& connection, ErrorCode code, std::string_view message);
  std::string missing_ranks_message() const;
  void check_deadlines();
  bool finished() const;
  int poll_timeout_ms() const;

  net::Fd listener_;
  uint64_t session_key_;
  JobSecret secret_;
  double round_timeout_s_;
  std::set<std::string> refused_addresses_;  // hosts, logged once each
  std::vector<std::unique_ptr<Connection>> connections_;

  int nranks_ = -1;  // from the first valid hello
  int nranks_source_rank_ = -1;
  std::vector<RankState> ranks_;

  uint64_t round_ = 0;
  std::vector<std::optional<std::vector<std::byte>>> contributions_;
  int contributed_ = 0;
  std::optional<Deadline> round_deadline_;  // none while no round is under way

  std::optional<Failure> failure_;
  Deadline linger_deadline_{};  // after a failure: answer late ranks until then
};

void RootService::run() {
  while (true) {
    check_deadlines();
    std::erase_if(connections_, [](const auto& connection) { return connection->dead; });
    if (finished()) return;

    std::vector<pollfd> fds;
    fds.push_back({listener_.get(), POLLIN, 0});
    for (const auto& connection : connections_) {
      short events = POLLIN;
      if (connection->output_sent < connection->output.size()) events |= POLLOUT;
      fds.push_back({connection->fd.get(), events, 0});
    }
    int ready = ::poll(fds.data(), fds.size(), poll_timeout_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      log(LogLevel::kWarn, "bootstrap root: poll failed: {}", std::strerror(errno));
      return;
    }
    size_t polled = connections_.size();  // accepting appends; those wait for the next poll
    for (size_t i = 0; i < polled; ++i) {
      Connection& connection = *connections_[i];
      short revents = fds[i + 1].revents;
      if (revents & (POLLIN | POLLHUP | POLLERR)) read_from(connection);
      if (!connection.dead && (revents & POLLOUT)) write_to(connection);
    }
    if (fds[0].revents & POLLIN) accept_connections();
  }
}

void RootService::accept_connections() {
  // A bounded batch, so a flood of connections cannot keep the loop from the ranks' sockets.
  for (int batch = 0; batch < 64; ++batch) {
    sockaddr_in peer{};
    socklen_t peer_length = sizeof(peer);
    int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        // Out of fds or memory: the listener stays readable, so pause rather than spin.
        log(LogLevel::kWarn, "bootstrap root: accept failed: {}", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      break;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto connection = std::make_unique<Connection>();
    connection->fd = net::Fd(fd);
    connection->address = net::format_address(peer.sin_addr, ntohs(peer.sin_port));
    connection->nonce = random_join_nonce();
    connection->hello_deadline = net::deadline_after(std::min(kHelloTimeoutS, round_timeout_s_));
    std::byte challenge[wire::kChallengeBytes];
    wire::encode_challenge(connection->nonce, challenge);
    connection->output.assign(challenge, challenge + sizeof(challenge));
    connections_.push_back(std::move(connection));
    write_to(*connections_.back());
  }
  limit_strangers();
}

void RootService::limit_strangers() {
  size_t strangers = 0;
  for (auto it = connections_.rbegin(); it != connections_.rend(); ++it) {
    Connection& connection = **it;
    if (connection.authenticated || connection.dead || connection.closing) continue;
    // The oldest go first: they had the longest to say hello.
    if (++strangers > kMaxStrangers + static_cast<size_t>(std::max(nranks_, 0))) refuse_stranger(connection, "too many connections waiting to say hello");
  }
}

void RootService::read_from(Connection& connection) {
  std::byte buffer[64 * 1024];
  while (!connection.dead) {
    ssize_t got = ::recv(connection.fd.get(), buffer, sizeof(buffer), 0);
    if (got > 0) {
      // A closing connection only waits for the rank to hang up; its bytes no longer matter.
      if (!connection.closing) connection.input.insert(connection.input.end(), buffer, buffer + got);
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    on_disconnect(connection);
    return;
  }
  parse_input(connection);
}

void RootService::write_to(Connection& connection) {
  while (connection.output_sent < connection.output.size()) {
    ssize_t sent = ::send(connection.fd.get(), connection.output.data() + connection.output_sent,
                          connection.output.size() - connection.output_sent, MSG_NOSIGNAL);
    if (sent > 0) {
      connection.output_sent += static_cast<size_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    on_disconnect(connection);
    return;
  }
  connection.output.clear();
  connection.output_sent = 0;
  // Half-close rather than close: closing with unread input would send a
  // reset, which can destroy the error reply before the rank reads it.
  if (connection.closing) ::shutdown(connection.fd.get(), SHUT_WR);
}

void RootService::parse_input(Connection& connection) {
  auto& input = connection.input;
  while (!connection.dead && !connection.closing) {
    if (!connection.authenticated) {
      if (input.size() < wire::kHelloBytes) return;
      wire::Hello hello = wire::decode_hello(input.data());
      input.erase(input.begin(), input.begin() + wire::kHelloBytes);
      on_hello(connection, hello);
      continue;
    }
    if (input.size() < wire::kLengthBytes) return;
    uint64_t length = wire::get_u64(input.data());
    if (length > wire::kMaxContributionBytes) {
      fail_session(ErrorCode::kInvalidArgument,
                   fmt::format("rank {} sent a contribution of {} bytes (limit {})", connection.rank, length,
                               wire::kMaxContributionBytes));
      return;
    }
    if (input.size() < wire::kLengthBytes + length) return;
    auto begin = input.begin() + wire::kLengthBytes;
    std::vector<std::byte> data(begin, begin + static_cast<ptrdiff_t>(length));
    input.erase(input.begin(), begin + static_cast<ptrdiff_t>(length));
    on_contribution(connection, std::move(data));
  }
}

std::optional<std::string> RootService::refusal(const Connection& connection, const wire::Hello& hello) const {
  if (hello.magic == wire::kOldMagic) return "a rank of an older Strata (before authenticated joins)";
  if (hello.magic != wire::kMagic) return "not a Strata rank";
  JoinProof expected =
      rank_join_proof(secret_, connection.nonce, hello.nonce, hello.session_key, hello.rank, hello.nranks);
  if (!join_proofs_equal(expected, hello.proof)) return "it did not prove the job secret (wrong key, or a replay)";
  if (hello.session_key != session_key_) return "wrong session key (a unique id from another run?)";
  return std::nullopt;
}

void RootService::note_refusal(const Connection& connection, const std::string& why) {
  std::string host = connection.address.substr(0, connection.address.rfind(':'));
  if (refused_addresses_.size() < 4096 && refused_addresses_.insert(host).second) {
    log(LogLevel::kWarn, "bootstrap root refused a connection from {}: {}", connection.address, why);
  }
}

void RootService::refuse_stranger(Connection& connection, const std::string& why) {
  note_refusal(connection, why);
  // A stranger gets the reason (a rank with the wrong key wants to know) and
  // the connection's challenge time to read it, no more.
  close_after_reply(connection, ErrorCode::kInvalidArgument, "bootstrap root refused the connection: " + why);
  connection.drop_deadline = std::min(connection.drop_deadline, connection.hello_deadline);
}

void RootService::on_hello(Connection& connection, const wire::Hello& hello) {
  if (std::optional<std::string> why = refusal(connection, hello)) {
    refuse_stranger(connection, *why);
    return;
  }
  connection.authenticated = true;
  JoinProof welcome = root_join_proof(secret_, connection.nonce, hello.nonce, session_key_);
  queue_reply(connection, std::nullopt, welcome);
  if (failure_) {
    if (nranks_ > 0 && hello.rank >= 0 && hello.rank < nranks_) ranks_[hello.rank] = RankState::kGone;
    close_after_reply(connection, failure_->code, failure_->message);
    return;
  }
  admit(connection, hello);
}

void RootService::admit(Connection& connection, const wire::Hello& hello) {
  if (nranks_ < 0) {
    if (hello.nranks <= 0) {
      fail_session(ErrorCode::kInvalidArgument, fmt::format("rank {} says there are {} ranks", hello.rank, hello.nranks));
      return;
    }
    nranks_ = hello.nranks;
    nranks_source_rank_ = hello.rank;
    ranks_.assign(static_cast<size_t>(nranks_), RankState::kAbsent);
    contributions_.assign(static_cast<size_t>(nranks_), std::nullopt);
    round_deadline_ = net::deadline_after(round_timeout_s_);  // round 0 starts with the first rank
  }
  if (hello.nranks != nranks_) {
    fail_session(ErrorCode::kInvalidArgument, fmt::format("rank {} says there are {} ranks but rank {} says {}",
                                                          hello.rank, hello.nranks, nranks_source_rank_, nranks_));
  } else if (hello.rank < 0 || hello.rank >= nranks_) {
    fail_session(ErrorCode::kInvalidArgument,
                 fmt::format("rank {} is out of range: there are {} ranks", hello.rank, nranks_));
  } else if (ranks_[hello.rank] != RankState::kAbsent) {
    fail_session(ErrorCode::kInvalidArgument, fmt::format("rank {} connected twice", hello.rank));
  } else {
    connection.rank = hello.rank;
    ranks_[hello.rank] = RankState::kConnected;
  }
}

void RootService::on_contribution(Connection& connection, std::vector<std::byte> data) {
  if (failure_) return;
  int rank = connection.rank;
  if (contributions_[rank]) {
    fail_session(ErrorCode::kInvalidArgument, fmt::format("rank {} contributed twice to round {}", rank, round_));
    return;
  }
  auto gone = std::find(ranks_.begin(), ranks_.end(), RankState::kGone);
  if (gone != ranks_.end()) {
    fail_session(ErrorCode::kRemote, fmt::format("rank {} left the bootstrap before round {}, which needs every rank",
                                                 gone - ranks_.begin(), round_));
    return;
  }
  if (contributed_ == 0 && round_ > 0) round_deadline_ = net::deadline_after(round_timeout_s_);
  contributions_[rank] = std::move(data);
  if (++contributed_ == nranks_) complete_round();
}

void RootService::on_disconnect(Connection& connection) {
  connection.dead = true;
  if (connection.rank < 0) return;
  ranks_[connection.rank] = RankState::kGone;
  // Between rounds a rank leaving is how a session ends; inside one it strands the others.
  bool round_open = round_ == 0 || contributed_ > 0;
  if (!failure_ && round_open) {
    fail_session(ErrorCode::kRemote,
                 fmt::format("rank {} disconnected from the bootstrap root during round {}", connection.rank, round_));
  }
}

void RootService::complete_round() {
  size_t length = contributions_[0]->size();
  for (int rank = 1; rank < nranks_; ++rank) {
    if (contributions_[rank]->size() != length) {
      fail_session(ErrorCode::kInvalidArgument,
                   fmt::format("round {}: rank 0 contributed {} bytes but rank {} contributed {}", round_, length,
                               rank, contributions_[rank]->size()));
      return;
    }
  }
  std::vector<std::byte> all;
  all.reserve(length * static_cast<size_t>(nranks_));
  for (auto& contribution : contributions_) all.insert(all.end(), contribution->begin(), contribution->end());
  for (auto& connection : connections_) {
    if (connection->rank >= 0 && !connection->dead) queue_reply(*connection, std::nullopt, all);
  }
  contributions_.assign(static_cast<size_t>(nranks_), std::nullopt);
  contributed_ = 0;
  ++round_;
  round_deadline_.reset();
}

void RootService::fail_session(ErrorCode code, std::string message) {
  if (failure_) return;
  log(LogLevel::kInfo, "bootstrap root: {}", message);
  failure_ = Failure{code, std::move(message)};
  for (auto& connection : connections_) {
    if (!connection->authenticated || connection->dead || connection->closing) continue;
    close_after_reply(*connection, failure_->code, failure_->message);
  }
  auto now = Clock::now();
  // Ranks still on their way to round 0 deserve the real error, not a refused connection.
  linger_deadline_ = (round_ == 0 && round_deadline_) ? std::max(*round_deadline_, now) : now;
  round_deadline_.reset();
}

void RootService::queue_reply(Connection& connection, std::optional<ErrorCode> code, std::span<const std::byte> body) {
  size_t start = connection.output.size();
  connection.output.resize(start + wire::kReplyHeaderBytes + body.size());
  std::byte* out = connection.output.data() + start;
  wire::put_u32(out, wire::encode_status(code));
  wire::put_u64(out + 4, body.size());
  std::copy(body.begin(), body.end(), out + wire::kReplyHeaderBytes);
  write_to(connection);
}

void RootService::close_after_reply(Connection& connection, ErrorCode code, std::string_view message) {
  connection.closing = true;
  connection.drop_deadline = net::deadline_after(std::min(2.0, round_timeout_s_));
  queue_reply(connection, code, std::as_bytes(std::span(message)));
}

std::string RootService::missing_ranks_message() const {
  if (nranks_ < 0) return fmt::format("no rank reached the bootstrap root within {:.3g} s", round_timeout_s_);
  std::string missing;
  int listed = 0;
  for (int rank = 0; rank < nranks_; ++rank) {
    if (contributions_[rank]) continue;
    if (++listed > 16) {
      missing += ", ...";
      break;
    }
    missing += fmt::format("{}{}{}", listed > 1 ? ", " : "", rank,
                           ranks_[rank] == RankState::kAbsent ? " (never connected)" : "");
  }
  return fmt::format("bootstrap round {}: {} of {} ranks arrived within {:.3g} s; missing ranks: {}", round_,
                     contributed_, nranks_, round_timeout_s_, missing);
}

void RootService::check_deadlines() {
  auto now = Clock::now();
  if (!failure_ && round_deadline_ && now >= *round_deadline_) fail_session(ErrorCode::kTimeout, missing_ranks_message());
  for (auto& connection : connections_) {
    if (connection->closing && now >= connection->drop_deadline) connection->dead = true;
    if (!connection->authenticated && !connection->closing && now >= connection->hello_deadline) {
      note_refusal(*connection, "no hello within the time allowed");
      connection->dead = true;
    }
    // After a failure, a connection that never said hello is not worth waiting for.
    if (failure_ && !connection->closing && now >= linger_deadline_) connection->dead = true;
  }
}

bool RootService::finished() const {
  bool everyone_gone =
      nranks_ > 0 && std::all_of(ranks_.begin(), ranks_.end(), [](RankState state) { return state == RankState::kGone; });
  if (!failure_) return everyone_gone;
  return connections_.empty() && (everyone_gone || Clock::now() >= linger_deadline_);
}

int RootService::poll_timeout_ms() const {
  std::optional<Deadline> nearest;
  if (!failure_) nearest = round_deadline_;  // between rounds only a socket event can change anything
  if (failure_) nearest = linger_deadline_;
  auto consider = [&nearest](Deadline deadline) {
    if (!nearest || deadline < *nearest) nearest = deadline;
  };
  for (const auto& connection : connections_) {
    if (connection->closing) consider(connection->drop_deadline);
    if (!connection->authenticated && !connection->closing) consider(connection->hello_deadline);
  }
  return nearest ? net::milliseconds_until(*nearest) : -1;
}

}  // namespace

void start_tcp_bootstrap_root(net::Fd listener, uint64_t session_key, const JobSecret& secret, double timeout_s) {
  auto service = std::make_unique<RootService>(std::move(listener), session_key, secret, timeout_s);
  g_active_roots.fetch_add(1);
  try {
    std::thread([service = std::move(service)]() mutable {
      try {
        service->run();
      } catch (const std::exception& error) {
        log(LogLevel::kWarn, "bootstrap root stopped: {}", error.what());
      }
      service.reset();  // close the sockets before saying we are gone
      g_active_roots.fetch_sub(1);
    }).detach();
  } catch (...) {
    g_active_roots.fetch_sub(1);
    throw;
  }
}

int active_tcp_bootstrap_root_count() { return g_active_roots.load(); }

}  // namespace strata::runtime
