// Authenticated joins (join_auth.h): only ranks that know the job secret get
// in, a root that does not know it is found out, and strangers at the root's
// port (garbage, replays, wrong keys, slow talkers, floods) neither get in nor
// disturb the ranks' rounds.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "common/error.h"
#include "runtime/bootstrap/join_auth.h"
#include "runtime/bootstrap/socket_io.h"
#include "runtime/bootstrap/tcp_bootstrap.h"
#include "runtime/bootstrap/tcp_bootstrap_wire.h"
#include "tests/bootstrap/bootstrap_test_util.h"

namespace strata::runtime {
namespace {

using testing::contribution;
using testing::expected_allgather;
using testing::run_ranks;
using testing::seconds_since;

constexpr double kTimeoutS = 5.0;

std::string error_text(const std::exception_ptr& error) {
  if (!error) return "";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Runs `rounds` allgathers on `nranks` ranks and checks every result.
std::vector<std::exception_ptr> run_session(const UniqueId& id, int nranks, int rounds, const JoinPolicy& policy = {},
                                            int pause_ms = 0) {
  return run_ranks(nranks, [&](int rank) {
    auto bootstrap = connect_tcp_bootstrap(id, rank, nranks, kTimeoutS, policy);
    for (int round = 0; round < rounds; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      auto all = bootstrap->allgather(contribution(rank, round, 64));
      if (all != expected_allgather(nranks, round, 64)) {
        fail(ErrorCode::kInternal, {rank, -1, "test"}, "round {} gathered wrong bytes", round);
      }
    }
  });
}

void expect_no_errors(const std::vector<std::exception_ptr>& errors) {
  for (size_t rank = 0; rank < errors.size(); ++rank) EXPECT_FALSE(errors[rank]) << error_text(errors[rank]);
}

UniqueId with_secret(UniqueId id, std::byte first_byte) {
  auto root = *wire::decode_unique_id(id);
  root.secret[0] = first_byte;
  return wire::encode_unique_id(root);
}

// A raw connection to the root named by `id`.
net::Fd connect_raw(const UniqueId& id) {
  auto root = *wire::decode_unique_id(id);
  net::Fd fd = net::connect_until(root.address, root.port, net::deadline_after(kTimeoutS));
  EXPECT_TRUE(fd.valid());
  return fd;
}

JoinNonce read_challenge(int fd) {
  std::byte bytes[wire::kChallengeBytes];
  EXPECT_EQ(net::read_all(fd, bytes, sizeof bytes, net::deadline_after(kTimeoutS)), net::IoStatus::kOk);
  auto nonce = wire::decode_challenge(bytes);
  EXPECT_TRUE(nonce.has_value());
  return nonce.value_or(JoinNonce{});
}

// Everything the root says until it hangs up (or `seconds` pass).
std::string read_until_closed(int fd, double seconds) {
  std::string text;
  char buffer[4096];
  net::Deadline deadline = net::deadline_after(seconds);
  while (true) {
    auto status = net::read_all(fd, buffer, 1, deadline);
    if (status != net::IoStatus::kOk) return status == net::IoStatus::kClosed ? text : text + "<not closed>";
    text += buffer[0];
  }
}

TEST(JoinAuth, ProofsBindEveryInput) {
  JobSecret secret = random_job_secret();
  JoinNonce a = random_join_nonce(), b = random_join_nonce();
  JoinProof base = rank_join_proof(secret, a, b, 7, 1, 4);
  EXPECT_TRUE(join_proofs_equal(base, rank_join_proof(secret, a, b, 7, 1, 4)));
  EXPECT_FALSE(join_proofs_equal(base, rank_join_proof(secret, b, a, 7, 1, 4)));
  EXPECT_FALSE(join_proofs_equal(base, rank_join_proof(secret, a, b, 8, 1, 4)));
  EXPECT_FALSE(join_proofs_equal(base, rank_join_proof(secret, a, b, 7, 2, 4)));
  EXPECT_FALSE(join_proofs_equal(base, rank_join_proof(secret, a, b, 7, 1, 5)));
  EXPECT_FALSE(join_proofs_equal(base, rank_join_proof(random_job_secret(), a, b, 7, 1, 4)));
  // A rank's proof can never pass as the root's.
  EXPECT_FALSE(join_proofs_equal(root_join_proof(secret, a, b, 7), rank_join_proof(secret, a, b, 7, 0, 0)));
}

TEST(JoinAuth, KeysShorterThan16BytesAreRefusedNamingTheSource) {
  std::string short_key = "0123456789";
  try {
    job_secret_from_key(std::as_bytes(std::span(short_key)), "STRATA_AUTH_KEY_FILE=/k");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("STRATA_AUTH_KEY_FILE=/k holds 10 bytes"), std::string::npos) << e.what();
  }
}

TEST(JoinAuth, UniqueIdsCarryAFreshSecret) {
  auto first = *wire::decode_unique_id(create_unique_id("", kTimeoutS));
  auto second = *wire::decode_unique_id(create_unique_id("", kTimeoutS));
  EXPECT_EQ(first.mode, JoinMode::kSecretInId);
  EXPECT_NE(first.secret, JobSecret{});
  EXPECT_NE(first.secret, second.secret);
}

TEST(JoinAuth, ARankWithTheWrongSecretIsRefusedAndTheOthersGoOn) {
  UniqueId id = create_unique_id("", kTimeoutS);
  UniqueId forged = with_secret(id, std::byte{0x5a});
  try {
    connect_tcp_bootstrap(forged, 0, 2, kTimeoutS);
    FAIL() << "a rank with the wrong secret got in";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find("did not prove the job secret"), std::string::npos) << e.what();
  }
  expect_no_errors(run_session(id, 2, 3));
}

TEST(JoinAuth, KeyFileModeNeedsTheSameKeyOnEveryRank) {
  std::string key = "a job key of thirty-two bytes...";
  JoinPolicy policy;
  policy.key_file_secret = job_secret_from_key(std::as_bytes(std::span(key)), "test key");
  UniqueId id = create_unique_id("", kTimeoutS, policy);
  auto root = *wire::decode_unique_id(id);
  EXPECT_EQ(root.mode, JoinMode::kKeyFile);
  EXPECT_EQ(root.secret, JobSecret{});  // the id itself carries nothing worth stealing

  try {
    connect_tcp_bootstrap(id, 0, 2, kTimeoutS);  // no key here
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("STRATA_AUTH_KEY_FILE, which is not set"), std::string::npos) << e.what();
  }
  std::string other_key = "another key of thirty-two bytes.";
  JoinPolicy wrong;
  wrong.key_file_secret = job_secret_from_key(std::as_bytes(std::span(other_key)), "other key");
  EXPECT_THROW(connect_tcp_bootstrap(id, 0, 2, kTimeoutS, wrong), Error);
  expect_no_errors(run_session(id, 2, 2, policy));
}

TEST(JoinAuth, AuthOffIsAnExplicitModeThatStillJoins) {
  JoinPolicy off;
  off.authenticate = false;
  UniqueId id = create_unique_id("", kTimeoutS, off);
  EXPECT_EQ(wire::decode_unique_id(id)->mode, JoinMode::kOff);
  expect_no_errors(run_session(id, 2, 2, off));
}

TEST(JoinAuth, ARootThatCannotProveTheSecretIsFoundOut) {
  // An impostor listens where the id points, sends a well-formed challenge and
  // welcomes the rank without knowing the secret.
  wire::RootAddress fake;
  fake.address.s_addr = htonl(INADDR_LOOPBACK);
  net::Fd listener = net::listen_on_port(&fake.port);
  fake.secret = random_job_secret();
  std::thread impostor([&] {
    net::Fd fd;
    for (net::Deadline until = net::deadline_after(kTimeoutS); !fd.valid() && net::Clock::now() < until;) {
      fd = net::Fd(::accept(listener.get(), nullptr, nullptr));
      if (!fd.valid()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::byte challenge[wire::kChallengeBytes];
    wire::encode_challenge(random_join_nonce(), challenge);
    net::write_all(fd.get(), challenge, sizeof challenge, net::deadline_after(kTimeoutS));
    std::byte hello[wire::kHelloBytes];
    net::read_all(fd.get(), hello, sizeof hello, net::deadline_after(kTimeoutS));
    std::byte welcome[wire::kReplyHeaderBytes + sizeof(JoinProof)]{};
    wire::put_u64(welcome + 4, sizeof(JoinProof));
    net::write_all(fd.get(), welcome, sizeof welcome, net::deadline_after(kTimeoutS));
    read_until_closed(fd.get(), kTimeoutS);
  });
  try {
    connect_tcp_bootstrap(wire::encode_unique_id(fake), 0, 1, kTimeoutS);
    ADD_FAILURE() << "the rank trusted an impostor";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kRemote) << e.what();
    EXPECT_NE(std::string(e.what()).find("did not prove it knows the job secret"), std::string::npos) << e.what();
  }
  impostor.join();
}

TEST(JoinAuth, AReplayedHandshakeIsRefused) {
  UniqueId id = create_unique_id("", kTimeoutS);
  auto root = *wire::decode_unique_id(id);
  // A valid hello for one connection, as an eavesdropper would capture it...
  net::Fd first = connect_raw(id);
  wire::Hello hello{wire::kMagic, root.session_key, 0, 2, random_join_nonce()};
  hello.proof = rank_join_proof(root.secret, read_challenge(first.get()), hello.nonce, root.session_key, 0, 2);
  std::byte bytes[wire::kHelloBytes];
  wire::encode_hello(hello, bytes);
  // ...is worthless on the next, which has a fresh challenge.
  net::Fd second = connect_raw(id);
  read_challenge(second.get());
  ASSERT_EQ(net::write_all(second.get(), bytes, sizeof bytes, net::deadline_after(kTimeoutS)), net::IoStatus::kOk);
  EXPECT_NE(read_until_closed(second.get(), kTimeoutS).find("a replay"), std::string::npos);
  first.reset();
}

// Strangers of every kind hammer the root while four ranks run rounds.
void barrage(const UniqueId& id, std::atomic<bool>& stop, int kind, std::atomic<int>& connections) {
  auto root = *wire::decode_unique_id(id);
  std::vector<net::Fd> held;
  for (int i = 0; !stop.load(); ++i) {
    // (The root leaves when the ranks are done; then connections are refused.)
    net::Fd fd = net::connect_until(root.address, root.port, net::deadline_after(0.05));
    if (!fd.valid()) continue;
    connections.fetch_add(1);
    std::vector<std::byte> junk(4096);
    for (size_t b = 0; b < junk.size(); ++b) junk[b] = static_cast<std::byte>(b * 131 + i);
    switch (kind) {
      case 0:  // garbage
        net::write_all(fd.get(), junk.data(), junk.size(), net::deadline_after(0.1));
        break;
      case 1: {  // a well-formed hello that claims a huge job, with a made-up proof, then a huge length
        wire::Hello hello{wire::kMagic, root.session_key, 0, 1 << 30, random_join_nonce()};
        wire::encode_hello(hello, junk.data());
        wire::put_u64(junk.data() + wire::kHelloBytes, ~uint64_t{0});
        net::write_all(fd.get(), junk.data(), wire::kHelloBytes + 8, net::deadline_after(0.1));
        break;
      }
      case 2:  // slowloris: one byte now and then, never a whole hello
        net::write_all(fd.get(), junk.data(), 1, net::deadline_after(0.1));
        held.push_back(std::move(fd));
        if (held.size() > 64) held.erase(held.begin());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        break;
      default:  // a flood of connections that say nothing
        held.push_back(std::move(fd));
        if (held.size() > 400) held.erase(held.begin(), held.begin() + 200);
        break;
    }
    // A thousand connections a second each: the attackers share this
    // machine's two cores with the ranks, and the test is of the root.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(JoinAuth, StrangersAtThePortDoNotDisturbTheRanks) {
  auto timed_session = [](bool hostile) {
    UniqueId id = create_unique_id("", kTimeoutS);
    std::atomic<bool> stop{false};
    std::atomic<int> connections{0};
    std::vector<std::thread> attackers;
    if (hostile) {
      for (int kind = 0; kind < 4; ++kind) attackers.emplace_back([&, kind] { barrage(id, stop, kind, connections); });
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the root is busy before the ranks come
    }
    auto start = std::chrono::steady_clock::now();
    auto errors = run_session(id, 4, 20, {}, 10);
    double elapsed_s = seconds_since(start);
    stop = true;
    for (auto& attacker : attackers) attacker.join();
    expect_no_errors(errors);
    std::printf("%s: 20 rounds in %.3f s (%d hostile connections)\n", hostile ? "under attack" : "quiet", elapsed_s,
                connections.load());
    if (hostile) EXPECT_GT(connections.load(), 200);
    return elapsed_s;
  };
  double quiet_s = timed_session(false);
  double hostile_s = timed_session(true);
  // 20 rounds with 10 ms pauses take ~0.2 s either way (1.00-1.02x here);
  // the bound leaves room for a loaded CI machine, never for a stalled root.
  EXPECT_LT(hostile_s, quiet_s * 1.1 + 0.3) << "quiet " << quiet_s << " s, under attack " << hostile_s << " s";
}

TEST(JoinAuth, ASilentStrangerIsDroppedAfterTheHelloTimeout) {
  UniqueId id = create_unique_id("", 1.0);  // hello timeout: min(5 s, the root's timeout)
  net::Fd fd = connect_raw(id);
  read_challenge(fd.get());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(read_until_closed(fd.get(), 3.0), "");
  EXPECT_LT(seconds_since(start), 1.5);
}

}  // namespace
}  // namespace strata::runtime
