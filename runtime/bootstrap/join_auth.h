// How a rank proves to the bootstrap root that it belongs to the job, and the
// root proves the same back (docs/security.md). Both hold a 32-byte job
// secret; neither sends it. The root opens each connection with a fresh
// nonce, the rank answers with its own nonce and an HMAC-SHA256 over both,
// and the root's welcome is an HMAC over the pair in the other order, so a
// captured handshake is worth nothing on another connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace strata::runtime {

using JobSecret = std::array<std::byte, 32>;
using JoinNonce = std::array<std::byte, 16>;
using JoinProof = std::array<std::byte, 32>;

// Where the ranks of a job find the secret; travels in the unique id.
enum class JoinMode : uint8_t {
  kSecretInId = 0,  // a random secret inside the unique id (the default)
  kKeyFile = 1,     // each rank reads STRATA_AUTH_KEY_FILE; the id carries none
  kOff = 2,         // STRATA_AUTH=off, or a rendezvous with no channel for a secret
};
const char* join_mode_name(JoinMode mode);

// What this process was configured with (runtime::join_policy() builds it
// from STRATA_AUTH and STRATA_AUTH_KEY_FILE).
struct JoinPolicy {
  bool authenticate = true;
  std::optional<JobSecret> key_file_secret;  // the key file's SHA-256
};

// Random bytes from OpenSSL's generator; throws Error(kSystem) when it fails.
JobSecret random_job_secret();
JoinNonce random_join_nonce();

// The secret a key file's contents stand for: their SHA-256. Throws
// Error(kInvalidArgument) naming `source` when fewer than 16 bytes are given.
JobSecret job_secret_from_key(std::span<const std::byte> contents, const std::string& source);
// Reads and digests the file at `path`; throws naming `variable` and the path.
JobSecret job_secret_from_key_file(const std::string& path, const std::string& variable);

// What a rank sends: binds the root's nonce, its own, the session key, its
// rank and the size it claims.
JoinProof rank_join_proof(const JobSecret& secret, const JoinNonce& root_nonce, const JoinNonce& rank_nonce,
                          uint64_t session_key, int32_t rank, int32_t nranks);
// What the root sends back once it accepted the rank.
JoinProof root_join_proof(const JobSecret& secret, const JoinNonce& root_nonce, const JoinNonce& rank_nonce,
                          uint64_t session_key);

// Constant-time comparison.
bool join_proofs_equal(const JoinProof& a, const JoinProof& b);

}  // namespace strata::runtime
