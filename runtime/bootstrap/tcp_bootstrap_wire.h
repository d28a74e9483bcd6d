// The bytes the TCP bootstrap puts in a UniqueId and on the wire. Integers
// travel big-endian so ranks on different hosts agree whatever their build.
//
//   root -> rank  challenge:    magic u64, root nonce 16
//   rank -> root  hello:        magic u64, session key u64, rank u32, nranks u32,
//                               rank nonce 16, rank proof 32 (join_auth.h)
//   root -> rank  welcome:      a reply whose bytes are the root's proof 32
//   rank -> root  contribution: length u64, bytes
//   root -> rank  reply:        status u32 (0 = ok, else 1 + ErrorCode), length u64,
//                               bytes (the concatenation, or the error text)
#pragma once

#include <endian.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "common/error.h"
#include "runtime/bootstrap/join_auth.h"
#include "runtime/bootstrap/tcp_bootstrap.h"

namespace strata::runtime::wire {

inline constexpr uint64_t kMagic = 0x5354524154414232ULL;           // "STRATAB2"
inline constexpr uint64_t kChallengeMagic = 0x5354524154414332ULL;  // "STRATAC2"
inline constexpr uint64_t kOldMagic = 0x5354524154414231ULL;        // "STRATAB1", before joins were authenticated
inline constexpr size_t kChallengeBytes = 8 + sizeof(JoinNonce);
inline constexpr size_t kHelloBytes = 24 + sizeof(JoinNonce) + sizeof(JoinProof);
inline constexpr size_t kLengthBytes = 8;
inline constexpr size_t kReplyHeaderBytes = 12;
// A contribution is a few hundred bytes of addresses; anything near this is garbage.
inline constexpr uint64_t kMaxContributionBytes = 64ULL << 20;

inline void put_u32(std::byte* out, uint32_t value) {
  value = htobe32(value);
  std::memcpy(out, &value, 4);
}
inline void put_u64(std::byte* out, uint64_t value) {
  value = htobe64(value);
  std::memcpy(out, &value, 8);
}
inline uint32_t get_u32(const std::byte* in) {
  uint32_t value;
  std::memcpy(&value, in, 4);
  return be32toh(value);
}
inline uint64_t get_u64(const std::byte* in) {
  uint64_t value;
  std::memcpy(&value, in, 8);
  return be64toh(value);
}

inline void encode_challenge(const JoinNonce& nonce, std::byte* out) {
  put_u64(out, kChallengeMagic);
  std::memcpy(out + 8, nonce.data(), nonce.size());
}

// nullopt when the bytes are not a Strata root's challenge.
inline std::optional<JoinNonce> decode_challenge(const std::byte* in) {
  if (get_u64(in) != kChallengeMagic) return std::nullopt;
  JoinNonce nonce;
  std::memcpy(nonce.data(), in + 8, nonce.size());
  return nonce;
}

struct Hello {
  uint64_t magic = kMagic;
  uint64_t session_key = 0;
  int32_t rank = -1;
  int32_t nranks = 0;
  JoinNonce nonce{};
  JoinProof proof{};
};

inline void encode_hello(const Hello& hello, std::byte* out) {
  put_u64(out, hello.magic);
  put_u64(out + 8, hello.session_key);
  put_u32(out + 16, static_cast<uint32_t>(hello.rank));
  put_u32(out + 20, static_cast<uint32_t>(hello.nranks));
  std::memcpy(out + 24, hello.nonce.data(), hello.nonce.size());
  std::memcpy(out + 24 + hello.nonce.size(), hello.proof.data(), hello.proof.size());
}

// Any kHelloBytes decode; the root judges the fields.
inline Hello decode_hello(const std::byte* in) {
  Hello hello{get_u64(in), get_u64(in + 8), static_cast<int32_t>(get_u32(in + 16)),
              static_cast<int32_t>(get_u32(in + 20))};
  std::memcpy(hello.nonce.data(), in + 24, hello.nonce.size());
  std::memcpy(hello.proof.data(), in + 24 + hello.nonce.size(), hello.proof.size());
  return hello;
}

inline uint32_t encode_status(std::optional<ErrorCode> code) {
  return code ? 1 + static_cast<uint32_t>(*code) : 0;
}
inline std::optional<ErrorCode> decode_status(uint32_t status) {
  if (status == 0) return std::nullopt;
  return static_cast<ErrorCode>(status - 1);
}

// Where the root listens, which run it serves, and how ranks prove they belong to it.
struct RootAddress {
  in_addr address{};
  uint16_t port = 0;
  uint64_t session_key = 0;  // tells runs apart; not a secret
  JoinMode mode = JoinMode::kSecretInId;
  JobSecret secret{};  // meaningful for kSecretInId only; zero otherwise
};

// Layout: magic u64, IPv4 address (network order) 4, port u16, join mode u8,
// 1 spare, session key u64, secret 32, zeros.
inline UniqueId encode_unique_id(const RootAddress& root) {
  UniqueId id{};
  auto* out = reinterpret_cast<std::byte*>(id.bytes.data());
  put_u64(out, kMagic);
  std::memcpy(out + 8, &root.address, 4);
  uint16_t port = htobe16(root.port);
  std::memcpy(out + 12, &port, 2);
  out[14] = static_cast<std::byte>(root.mode);
  put_u64(out + 16, root.session_key);
  if (root.mode == JoinMode::kSecretInId) std::memcpy(out + 24, root.secret.data(), root.secret.size());
  return id;
}

// nullopt when the bytes are not a Strata unique id of this version.
inline std::optional<RootAddress> decode_unique_id(const UniqueId& id) {
  const auto* in = reinterpret_cast<const std::byte*>(id.bytes.data());
  if (get_u64(in) != kMagic) return std::nullopt;
  RootAddress root;
  std::memcpy(&root.address, in + 8, 4);
  uint16_t port;
  std::memcpy(&port, in + 12, 2);
  root.port = be16toh(port);
  auto mode = static_cast<uint8_t>(in[14]);
  if (mode > static_cast<uint8_t>(JoinMode::kOff)) return std::nullopt;
  root.mode = static_cast<JoinMode>(mode);
  root.session_key = get_u64(in + 16);
  if (root.mode == JoinMode::kSecretInId) std::memcpy(root.secret.data(), in + 24, root.secret.size());
  return root;
}

// Why `id` does not decode, for the error a rank reports.
inline const char* unique_id_problem(const UniqueId& id) {
  const auto* in = reinterpret_cast<const std::byte*>(id.bytes.data());
  if (get_u64(in) == kOldMagic) return "a unique id from an older Strata (before authenticated joins)";
  if (get_u64(in) != kMagic) return "not a Strata unique id (wrong magic)";
  return "a Strata unique id with an unknown join mode";
}

}  // namespace strata::runtime::wire
