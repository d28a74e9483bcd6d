// The unique id's address: interface lists in NCCL_SOCKET_IFNAME's syntax,
// and an error (not a silent fallback) when a list matches nothing.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <string>

#include "common/error.h"
#include "runtime/bootstrap/socket_io.h"

namespace strata::runtime::net {
namespace {

TEST(InterfaceLists, PrefixesExactNamesAndExclusions) {
  EXPECT_TRUE(interface_matches("eth", "eth0"));
  EXPECT_TRUE(interface_matches("ib,eth", "eth1"));
  EXPECT_FALSE(interface_matches("ib", "eth0"));
  EXPECT_TRUE(interface_matches("=eth0", "eth0"));
  EXPECT_FALSE(interface_matches("=eth0", "eth01"));
  EXPECT_FALSE(interface_matches("^docker,lo", "docker0"));
  EXPECT_TRUE(interface_matches("^docker,lo", "eth0"));
  EXPECT_FALSE(interface_matches("^=lo", "lo"));
  EXPECT_TRUE(interface_matches("^=lo", "lo2"));
}

TEST(InterfaceLists, LoopbackByNameAndAnUnknownNameIsAnError) {
  const in_addr loopback = pick_interface_address("=lo");
  EXPECT_EQ(loopback.s_addr, htonl(INADDR_LOOPBACK));
  try {
    pick_interface_address("nosuchif");
    ADD_FAILURE() << "an interface list that matches nothing was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("nosuchif"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace strata::runtime::net
