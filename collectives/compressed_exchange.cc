#include "collectives/compressed_exchange.h"

namespace strata::collectives {
namespace {

int mod(int a, int m) { return ((a % m) + m) % m; }

// Hands out scratch for encoded messages and decoded slots, in bytes.
class ScratchArena {
 public:
  ScratchArena(DataflowBuilder& builder, uint64_t start) : builder_(builder), next_(start) {}
  Region message(uint64_t elements) {
    return take(compression::max_encoded_bytes(builder_.request().wan_format, elements));
  }
  Region floats(uint64_t elements) { return take(elements * sizeof(float)); }
  uint64_t end() const { return next_; }

 private:
  Region take(uint64_t bytes) {
    const Region region{kScratchBuffer, next_, bytes};
    next_ = (next_ + bytes + 63) & ~uint64_t{63};
    builder_.reserve_scratch_bytes(next_);
    return region;
  }
  DataflowBuilder& builder_;
  uint64_t next_;
};

// Where an encode of `span` keeps what it lost: the feedback buffer at the
// span's own offsets, or nowhere.
Region feedback_for(const WorkArea& work, const Span& span) {
  if (!work.builder.request().error_feedback) return {};
  work.builder.reserve_feedback(work.builder.request().count);
  return work.builder.region(kFeedbackBuffer, span.offset, span.count);
}

Region encode_span(WorkArea work, ScratchArena& arena, const Span& span) {
  const Region message = arena.message(span.count);
  work.builder.encode(message, work.at(span), feedback_for(work, span));
  return message;
}

// Receives `span`'s encoding from `peer` and decodes it into `dst`.
void receive_decoded(WorkArea work, ScratchArena& arena, int peer, const Span& span, Region dst) {
  const Region message = arena.message(span.count);
  work.builder.recv_encoded(peer, message);
  work.builder.decode(dst, message);
}

// dst = sources summed in order, dst itself holding the partial sums.
void sum_in_order(DataflowBuilder& builder, Region dst, const std::vector<Region>& sources) {
  builder.reduce(dst, sources[0], sources[1]);
  for (size_t i = 2; i < sources.size(); ++i) builder.reduce(dst, dst, sources[i]);
}

}  // namespace

bool wan_compressed(const CollectiveRequest& request) {
  return request.wan_format != compression::Format::kNone && request.dtype == DataType::kFloat32 &&
         request.op == ReduceOp::kSum;
}

uint64_t compressed_direct_all_reduce(WorkArea work, const std::vector<int>& peers, int me,
                                      const std::vector<Block>& pieces, uint64_t scratch_byte_offset,
                                      WindowedSends& sends) {
  const int s = static_cast<int>(peers.size());
  if (s == 1) return scratch_byte_offset;
  DataflowBuilder& b = work.builder;
  ScratchArena arena(b, scratch_byte_offset);
  // Reduce-scatter: my contribution to each other site's piece, encoded once.
  for (int d = 1; d < s; ++d) {
    const int j = mod(me + d, s);
    for (const Span& span : pieces[j]) sends.send(peers[j], encode_span(work, arena, span), true);
  }
  for (const Span& span : pieces[me]) {
    std::vector<Region> sources(static_cast<size_t>(s));
    sources[me] = work.at(span);
    for (int d = 1; d < s; ++d) {
      const int j = mod(me - d, s);
      sources[j] = arena.floats(span.count);
      receive_decoded(work, arena, peers[j], span, sources[j]);
    }
    // Into a slot first: work.at(span) is itself a source.
    const Region sum = arena.floats(span.count);
    sum_in_order(b, sum, sources);
    b.copy(work.at(span), sum);
  }
  // All-gather: each reduced span encoded once; its owner keeps the decoded copy.
  for (const Span& span : pieces[me]) {
    const Region message = encode_span(work, arena, span);
    for (int d = 1; d < s; ++d) sends.send(peers[mod(me + d, s)], message, true);
    b.decode(work.at(span), message);
  }
  for (int d = 1; d < s; ++d) {
    const int j = mod(me - d, s);
    for (const Span& span : pieces[j]) receive_decoded(work, arena, peers[j], span, work.at(span));
  }
  return arena.end();
}

uint64_t compressed_oneshot_all_reduce(WorkArea work, const std::vector<int>& peers, int me, const Block& data,
                                       uint64_t scratch_byte_offset, WindowedSends& sends) {
  const int s = static_cast<int>(peers.size());
  if (s == 1) return scratch_byte_offset;
  ScratchArena arena(work.builder, scratch_byte_offset);
  for (const Span& span : data) {
    std::vector<Region> sources(static_cast<size_t>(s));
    const Region message = encode_span(work, arena, span);
    for (int d = 1; d < s; ++d) sends.send(peers[mod(me + d, s)], message, true);
    // Every site sums the same decoded contributions, its own included.
    sources[me] = arena.floats(span.count);
    work.builder.decode(sources[me], message);
    for (int d = 1; d < s; ++d) {
      const int j = mod(me - d, s);
      sources[j] = arena.floats(span.count);
      receive_decoded(work, arena, peers[j], span, sources[j]);
    }
    sum_in_order(work.builder, work.at(span), sources);
  }
  return arena.end();
}

}  // namespace strata::collectives
