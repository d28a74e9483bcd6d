// The in-process transport's view receives: the receiver reads the sender's
// own buffer, and the send ends only when the view is released (or the
// receive canceled); with views off, the message lands in staging.
#include <gtest/gtest.h>

#include <array>

#include "runtime/transport/loopback/loopback_transport.h"

namespace strata::runtime {
namespace {

TEST(LoopbackView, ReceiverReadsTheSendersBufferUntilItReleases) {
  for (bool send_first : {true, false}) {
    auto world = create_loopback_transports(2);
    std::array<int, 4> out{1, 2, 3, 4}, staging{};
    Completion send, recv;
    if (send_first) world[0]->post_send(1, 9, out.data(), sizeof(out), &send);
    world[1]->post_recv_view(0, 9, staging.data(), sizeof(staging), &recv);
    if (!send_first) world[0]->post_send(1, 9, out.data(), sizeof(out), &send);
    ASSERT_EQ(recv.state.load(), Completion::kDone);
    EXPECT_EQ(recv.view, reinterpret_cast<const std::byte*>(out.data()));
    EXPECT_EQ(recv.received_bytes, sizeof(out));
    EXPECT_EQ(send.state.load(), Completion::kPending) << "the send ended while its buffer was being read";
    world[1]->release_view(0, &recv);
    EXPECT_EQ(send.state.load(), Completion::kDone);
  }
}

TEST(LoopbackView, CancelingAViewReleasesTheSend) {
  auto world = create_loopback_transports(2);
  std::array<int, 2> out{5, 6}, staging{};
  Completion send, recv;
  world[1]->post_recv_view(0, 1, staging.data(), sizeof(staging), &recv);
  world[0]->post_send(1, 1, out.data(), sizeof(out), &send);
  world[1]->cancel(&recv);
  EXPECT_EQ(send.state.load(), Completion::kDone);
}

TEST(LoopbackView, ACanceledReceiveTakesNothing) {
  auto world = create_loopback_transports(2);
  std::array<int, 2> out{5, 6}, in{-1, -1};
  Completion send, recv;
  world[1]->post_recv(0, 3, in.data(), sizeof(in), &recv);
  world[1]->cancel(&recv);
  world[0]->post_send(1, 3, out.data(), sizeof(out), &send);
  EXPECT_EQ(in[0], -1) << "a canceled receive took a later message";
  EXPECT_EQ(send.state.load(), Completion::kPending);
  world[0]->cancel(&send);
}

TEST(LoopbackView, WithoutViewsTheMessageLandsInStaging) {
  auto world = create_loopback_transports(2, /*views=*/false);
  std::array<int, 3> out{7, 8, 9}, staging{};
  Completion send, recv;
  world[1]->post_recv_view(0, 2, staging.data(), sizeof(staging), &recv);
  world[0]->post_send(1, 2, out.data(), sizeof(out), &send);
  ASSERT_EQ(recv.state.load(), Completion::kDone);
  EXPECT_EQ(recv.view, reinterpret_cast<const std::byte*>(staging.data()));
  EXPECT_EQ(staging, out);
  EXPECT_EQ(send.state.load(), Completion::kDone);
  world[1]->release_view(0, &recv);  // nothing held
}

}  // namespace
}  // namespace strata::runtime
