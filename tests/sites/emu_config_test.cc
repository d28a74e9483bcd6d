// Unit tests of the links file that `strata-sites set` writes and the
// emulator rereads on SIGHUP (emu_config.h parse_link_updates).
#include "emu_config.h"

#include <gtest/gtest.h>

namespace strata::sites {
namespace {

TEST(LinkUpdates, ParsesGenerationAndLinks) {
  std::optional<LinkUpdates> u = parse_link_updates(
      "# written by strata-sites set\n"
      "generation 7\n"
      "0>1:delay_us=5000,jitter_us=100,rate_bps=250000000,loss=0.01,"
      "queue_bytes=1048576,reorder=1\n"
      "\n"
      "1>0:rate_bps=0\n",
      2);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->generation, 7u);
  ASSERT_EQ(u->links.size(), 2u);
  const LinkUpdate& a = u->links[0];
  EXPECT_EQ(a.from, 0u);
  EXPECT_EQ(a.to, 1u);
  EXPECT_EQ(a.params.delay_ns, 5'000'000);
  EXPECT_EQ(a.params.jitter_ns, 100'000);
  EXPECT_EQ(a.params.rate_bps, 250'000'000u);
  EXPECT_DOUBLE_EQ(a.params.loss, 0.01);
  EXPECT_EQ(a.params.queue_bytes, 1u << 20);
  EXPECT_TRUE(a.params.reorder);
  // Unnamed fields are reset, not kept: each line is the whole link.
  EXPECT_EQ(u->links[1].params, LinkParams{});
}

TEST(LinkUpdates, RejectsTheWholeFileOnOneBadLine) {
  EXPECT_FALSE(
      parse_link_updates("generation 1\n0>1:rate_bps=1\n0>5:rate_bps=1\n", 2));
  EXPECT_FALSE(parse_link_updates("generation 1\n0>0:rate_bps=1\n", 2));
  EXPECT_FALSE(parse_link_updates("generation 1\n0>1:speed=3\n", 2));
  EXPECT_FALSE(parse_link_updates("generation x\n", 2));
  EXPECT_FALSE(parse_link_updates("0>1:rate_bps=1\n", 2));  // no generation
}

}  // namespace
}  // namespace strata::sites
