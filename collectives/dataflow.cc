#include "collectives/dataflow.h"

#include <algorithm>

namespace strata::collectives {

DataflowBuilder::DataflowBuilder(const CollectiveRequest& request, int rank) : builder_(request, rank) {}

Region DataflowBuilder::canonical(Region region) const {
  const CollectiveRequest& r = request();
  if (!r.in_place) return region;
  const uint64_t shift = static_cast<uint64_t>(rank()) * r.bytes_per_block();
  switch (r.collective) {
    case Collective::kAllReduce:
    case Collective::kBroadcast:
    case Collective::kReduce:
    case Collective::kAllToAll:
      if (region.buffer == kSendBuffer) region.buffer = kRecvBuffer;
      break;
    case Collective::kAllGather:  // send = recv + rank's block
      if (region.buffer == kSendBuffer) region = {kRecvBuffer, region.offset + shift, region.bytes};
      break;
    case Collective::kReduceScatter:  // recv = send + rank's block
      if (region.buffer == kRecvBuffer) region = {kSendBuffer, region.offset + shift, region.bytes};
      break;
    default: break;
  }
  return region;
}

DataflowBuilder::Track::iterator DataflowBuilder::cover(Track& track, uint64_t begin, uint64_t end) {
  // Split the record that straddles `begin`, then walk to `end` filling gaps.
  auto it = track.lower_bound(begin);
  if (it != track.begin()) {
    auto before = std::prev(it);
    if (before->second.end > begin) {
      Access tail = before->second;
      before->second.end = begin;
      it = track.emplace_hint(it, begin, std::move(tail));
    }
  }
  auto first = track.end();
  uint64_t at = begin;
  while (at < end) {
    if (it == track.end() || it->first > at) {
      const uint64_t gap_end = it == track.end() ? end : std::min(end, it->first);
      it = track.emplace_hint(it, at, Access{gap_end, kNoStep, {}});
    } else if (it->second.end > end) {
      Access tail = it->second;
      it->second.end = end;
      track.emplace_hint(std::next(it), end, std::move(tail));
    }
    if (first == track.end()) first = it;
    at = it->second.end;
    ++it;
  }
  return first;
}

void DataflowBuilder::gather_hazards(Region region, bool write, std::vector<StepId>& deps) {
  if (region.bytes == 0) return;
  region = canonical(region);
  Track& track = tracks_[region.buffer];
  const uint64_t end = region.offset + region.bytes;
  for (auto it = cover(track, region.offset, end); it != track.end() && it->first < end; ++it) {
    if (it->second.writer != kNoStep) deps.push_back(it->second.writer);
    if (write) deps.insert(deps.end(), it->second.readers.begin(), it->second.readers.end());
  }
}

void DataflowBuilder::record(Region region, bool write, StepId step) {
  if (region.bytes == 0) return;
  region = canonical(region);
  Track& track = tracks_[region.buffer];
  const uint64_t end = region.offset + region.bytes;
  for (auto it = cover(track, region.offset, end); it != track.end() && it->first < end; ++it) {
    if (write) {
      it->second.writer = step;
      it->second.readers.clear();
    } else {
      it->second.readers.push_back(step);
    }
  }
}

StepId DataflowBuilder::add(StepId step, std::initializer_list<Region> reads, std::initializer_list<Region> writes) {
  std::vector<StepId> deps;
  for (const Region& region : reads) gather_hazards(region, false, deps);
  for (const Region& region : writes) gather_hazards(region, true, deps);
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  for (StepId dep : deps)
    if (dep != step) builder_.add_dependency(step, dep);
  for (const Region& region : reads) record(region, false, step);
  for (const Region& region : writes) record(region, true, step);
  return step;
}

StepId DataflowBuilder::send(int peer, Region src) { return add(builder_.send(peer, src), {src}, {}); }
StepId DataflowBuilder::recv(int peer, Region dst) { return add(builder_.recv(peer, dst), {}, {dst}); }
StepId DataflowBuilder::recv_reduce(int peer, Region dst, Region local) {
  return add(builder_.recv_reduce(peer, dst, local), {local}, {dst});
}
StepId DataflowBuilder::reduce(Region dst, Region a, Region b) { return add(builder_.reduce(dst, a, b), {a, b}, {dst}); }
StepId DataflowBuilder::copy(Region dst, Region src) { return add(builder_.copy(dst, src), {src}, {dst}); }
StepId DataflowBuilder::encode(Region dst, Region src, Region feedback) {
  return add(builder_.encode(dst, src, feedback), {src, feedback}, {dst, feedback});
}
StepId DataflowBuilder::decode(Region dst, Region src) { return add(builder_.decode(dst, src), {src}, {dst}); }
StepId DataflowBuilder::send_encoded(int peer, Region src) { return add(builder_.send_encoded(peer, src), {src}, {}); }
StepId DataflowBuilder::recv_encoded(int peer, Region dst) { return add(builder_.recv_encoded(peer, dst), {}, {dst}); }

void DataflowBuilder::finish(Region dst) {
  if (request().finish.kind == FinishKind::kNone) return;
  add(builder_.finish(dst), {dst}, {dst});
}

}  // namespace strata::collectives
