#include "runtime/bootstrap/join_auth.h"

#include <endian.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace strata::runtime {
namespace {

// Labels keep a rank's proof from ever being accepted as the root's, and
// version the handshake.
constexpr std::string_view kRankLabel = "strata join v2: rank";
constexpr std::string_view kRootLabel = "strata join v2: root";

template <typename Bytes>
void fill_random(Bytes& bytes, const char* what) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size())) != 1) {
    fail(ErrorCode::kSystem, {-1, -1, "bootstrap"}, "OpenSSL could not make a random {}", what);
  }
}

class Message {
 public:
  void add(std::string_view text) { add_bytes(text.data(), text.size()); }
  void add(std::span<const std::byte> bytes) { add_bytes(bytes.data(), bytes.size()); }
  void add_u64(uint64_t value) {
    value = htobe64(value);
    add_bytes(&value, sizeof value);
  }
  void add_u32(uint32_t value) {
    value = htobe32(value);
    add_bytes(&value, sizeof value);
  }
  JoinProof mac(const JobSecret& secret) const {
    JoinProof proof{};
    unsigned int length = 0;
    const unsigned char* done =
        HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(bytes_.data()), bytes_.size(),
             reinterpret_cast<unsigned char*>(proof.data()), &length);
    if (done == nullptr || length != proof.size()) {
      fail(ErrorCode::kSystem, {-1, -1, "bootstrap"}, "OpenSSL HMAC-SHA256 failed");
    }
    return proof;
  }

 private:
  void add_bytes(const void* data, size_t size) {
    const auto* begin = static_cast<const std::byte*>(data);
    bytes_.insert(bytes_.end(), begin, begin + size);
  }
  std::vector<std::byte> bytes_;
};

}  // namespace

const char* join_mode_name(JoinMode mode) {
  switch (mode) {
    case JoinMode::kSecretInId: return "secret in the unique id";
    case JoinMode::kKeyFile: return "secret from STRATA_AUTH_KEY_FILE";
    case JoinMode::kOff: return "off";
  }
  return "unknown";
}

JobSecret random_job_secret() {
  JobSecret secret;
  fill_random(secret, "job secret");
  return secret;
}

JoinNonce random_join_nonce() {
  JoinNonce nonce;
  fill_random(nonce, "nonce");
  return nonce;
}

JobSecret job_secret_from_key(std::span<const std::byte> contents, const std::string& source) {
  if (contents.size() < 16) {
    fail(ErrorCode::kInvalidArgument, {-1, -1, "job secret"},
         "{} holds {} bytes; a job key needs at least 16 (e.g. `openssl rand -hex 32 > key`)", source,
         contents.size());
  }
  JobSecret secret{};
  unsigned int length = 0;
  if (EVP_Digest(contents.data(), contents.size(), reinterpret_cast<unsigned char*>(secret.data()), &length,
                 EVP_sha256(), nullptr) != 1 ||
      length != secret.size()) {
    fail(ErrorCode::kSystem, {-1, -1, "job secret"}, "OpenSSL SHA-256 failed on {}", source);
  }
  return secret;
}

JobSecret job_secret_from_key_file(const std::string& path, const std::string& variable) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    fail(ErrorCode::kInvalidArgument, {-1, -1, "job secret"}, "{}={}: cannot open the key file: {}", variable, path,
         std::strerror(errno));
  }
  std::string contents((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return job_secret_from_key(std::as_bytes(std::span(contents)), fmt::format("{}={}", variable, path));
}

JoinProof rank_join_proof(const JobSecret& secret, const JoinNonce& root_nonce, const JoinNonce& rank_nonce,
                          uint64_t session_key, int32_t rank, int32_t nranks) {
  Message message;
  message.add(kRankLabel);
  message.add(root_nonce);
  message.add(rank_nonce);
  message.add_u64(session_key);
  message.add_u32(static_cast<uint32_t>(rank));
  message.add_u32(static_cast<uint32_t>(nranks));
  return message.mac(secret);
}

JoinProof root_join_proof(const JobSecret& secret, const JoinNonce& root_nonce, const JoinNonce& rank_nonce,
                          uint64_t session_key) {
  Message message;
  message.add(kRootLabel);
  message.add(rank_nonce);
  message.add(root_nonce);
  message.add_u64(session_key);
  return message.mac(secret);
}

bool join_proofs_equal(const JoinProof& a, const JoinProof& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace strata::runtime
