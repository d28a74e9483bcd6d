#include "runtime/device/mapped_scratch.h"

#include <algorithm>

#include "common/error.h"
#include "common/host_reduce.h"

namespace strata::runtime {
namespace {

struct Range {
  uint64_t begin = 0;
  uint64_t count = 0;
};

// Block `index` of `parts` near-equal blocks of `count` elements.
Range block_of(uint64_t count, int parts, int index) {
  const uint64_t begin = count * static_cast<uint64_t>(index) / static_cast<uint64_t>(parts);
  const uint64_t end = count * static_cast<uint64_t>(index + 1) / static_cast<uint64_t>(parts);
  return {begin, end - begin};
}

// Byte-addressed views of the call's buffers.
struct Piece {
  MappedScratch& scratch;
  ScratchMemory& memory;
  const ScratchCall& call;
  uint64_t element;  // bytes per element

  // Floating averages scale each contribution before the sum (finish_before_sum).
  bool scales_inputs() const { return call.op == ReduceOp::kSum && finish_before_sum(call.type, call.finish); }
  // Puts `count` elements of this rank's input into scratch, scaled when due.
  void contribute(std::byte* dst, const std::byte* src, uint64_t count) const {
    memory.copy(dst, src, count * element);
    if (scales_inputs()) memory.finish(call.type, call.finish, dst, count);
  }
  const std::byte* send(uint64_t element_offset) const {
    return static_cast<const std::byte*>(call.send) + element_offset * element;
  }
  std::byte* recv(uint64_t element_offset) const { return static_cast<std::byte*>(call.recv) + element_offset * element; }
  std::byte* half(int owner, uint64_t element_offset) const {
    return scratch.half_of(owner) + element_offset * element;
  }
  // Everyone's inputs for this piece are in place (or results, the second time).
  void meet() const {
    memory.wait();
    scratch.barrier();
  }
  // Reduces elements [at, at + count) of every rank's half into the same
  // range of `dst`, starting from this rank's own half and going round the
  // ranks in order, so each result is made once, by one rank, in one order.
  void reduce_all_into(std::byte* dst, uint64_t at, uint64_t count) const {
    const int size = scratch.size, me = scratch.rank;
    if (count == 0) return;
    if (size == 1) {
      if (dst != half(me, at)) memory.copy(dst, half(me, at), count * element);
    } else {
      memory.reduce(call.type, call.op, dst, half(me, at), half((me + 1) % size, at), count);
      for (int step = 2; step < size; ++step) {
        memory.reduce(call.type, call.op, dst, dst, half((me + step) % size, at), count);
      }
    }
    if (!scales_inputs()) memory.finish(call.type, call.finish, dst, count);
  }
};

// AllReduce and Reduce: each rank reduces its block of the piece in its own
// half, then the owners' blocks are read by everyone (or the root).
void reduce_piece(const Piece& piece, uint64_t offset, uint64_t count) {
  MappedScratch& s = piece.scratch;
  piece.contribute(piece.half(s.rank, 0), piece.send(offset), count);
  piece.meet();
  const Range mine = block_of(count, s.size, s.rank);
  piece.reduce_all_into(piece.half(s.rank, mine.begin), mine.begin, mine.count);
  piece.meet();
  const bool gets_result = piece.call.collective == ScratchCollective::kAllReduce || s.rank == piece.call.root;
  if (!gets_result) return;
  for (int owner = 0; owner < s.size; ++owner) {
    const Range block = block_of(count, s.size, owner);
    if (block.count == 0) continue;
    piece.memory.copy(piece.recv(offset + block.begin), piece.half(owner, block.begin), block.count * piece.element);
  }
}

// ReduceScatter: each rank's half holds `count` elements of every rank's
// block; this rank reduces its own block of all halves into its output.
void reduce_scatter_piece(const Piece& piece, uint64_t offset, uint64_t count) {
  MappedScratch& s = piece.scratch;
  const uint64_t block_count = piece.call.count;
  for (int block = 0; block < s.size; ++block) {
    piece.contribute(piece.half(s.rank, block * count), piece.send(block * block_count + offset), count);
  }
  piece.meet();
  piece.reduce_all_into(piece.recv(offset), s.rank * count, count);
}

void all_gather_piece(const Piece& piece, uint64_t offset, uint64_t count) {
  MappedScratch& s = piece.scratch;
  piece.memory.copy(piece.half(s.rank, 0), piece.send(offset), count * piece.element);
  piece.meet();
  for (int owner = 0; owner < s.size; ++owner) {
    std::byte* dst = piece.recv(owner * piece.call.count + offset);
    if (owner == s.rank && dst == piece.send(offset)) continue;  // in place: already there
    piece.memory.copy(dst, piece.half(owner, 0), count * piece.element);
  }
}

void broadcast_piece(const Piece& piece, uint64_t offset, uint64_t count) {
  MappedScratch& s = piece.scratch;
  const int root = piece.call.root;
  const uint64_t bytes = count * piece.element;
  if (s.rank == root) {
    piece.memory.copy(piece.half(root, 0), piece.send(offset), bytes);
    if (piece.recv(offset) != piece.send(offset)) piece.memory.copy(piece.recv(offset), piece.send(offset), bytes);
  }
  piece.meet();
  if (s.rank != root) piece.memory.copy(piece.recv(offset), piece.half(root, 0), bytes);
}

// Bytes of a half that one element of the call's count takes (ReduceScatter
// keeps that element of every rank's block).
uint64_t half_bytes_per_element(const ScratchCall& call, int size) {
  const bool every_block = call.collective == ScratchCollective::kReduceScatter;
  return datatype_size(call.type) * (every_block ? static_cast<uint64_t>(size) : 1);
}

}  // namespace

uint64_t scratch_half_bytes_wanted(const ScratchCall& call, int size, uint64_t cap) {
  const uint64_t per_element = half_bytes_per_element(call, size);
  const uint64_t whole = call.count * per_element;
  return std::max(per_element, std::min(whole, cap));
}

void run_scratch_collective(MappedScratch& scratch, ScratchMemory& memory, const ScratchCall& call) {
  const uint64_t step = scratch.half_bytes / half_bytes_per_element(call, scratch.size);
  if (step == 0) {
    fail(ErrorCode::kInternal, {scratch.rank, -1, "scratch collective"},
         "scratch halves of {} bytes cannot hold one element of every rank's block", scratch.half_bytes);
  }
  const Piece piece{scratch, memory, call, datatype_size(call.type)};
  for (uint64_t offset = 0; offset < call.count; offset += step) {
    const uint64_t count = std::min(step, call.count - offset);
    switch (call.collective) {
      case ScratchCollective::kAllReduce:
      case ScratchCollective::kReduce: reduce_piece(piece, offset, count); break;
      case ScratchCollective::kReduceScatter: reduce_scatter_piece(piece, offset, count); break;
      case ScratchCollective::kAllGather: all_gather_piece(piece, offset, count); break;
      case ScratchCollective::kBroadcast: broadcast_piece(piece, offset, count); break;
    }
    ++scratch.pieces;
  }
  // No rank returns while a peer may still read its scratch: a rank may then
  // free it (destroy its communicator, which NCCL does not make collective)
  // as soon as its call has returned.
  memory.wait();
  if (call.count > 0) scratch.barrier();
}

}  // namespace strata::runtime
