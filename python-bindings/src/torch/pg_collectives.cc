// The collectives of ProcessGroupStrata. Each checks its arguments on the
// caller's thread (a bad call raises there, naming the argument and rank),
// stages tensors the engine cannot use as they are (tensor_args.h), and
// queues the operation; lists of tensors travel through one flat buffer.
#include "process_group_strata.h"
#include "tensor_args.h"

namespace strata::torch_backend {
namespace {

using runtime::Communicator;
using Staging = std::shared_ptr<Staged>;

at::Tensor flat_host(const Tensors& tensors) {
  std::vector<at::Tensor> parts;
  for (const at::Tensor& tensor : tensors) parts.push_back(tensor.to(at::kCPU).contiguous().view(-1));
  return at::cat(parts);
}

// Copies consecutive pieces of `flat` (from `offset` elements) into `tensors`.
void unflatten_into(const at::Tensor& flat, int64_t offset, const Tensors& tensors) {
  for (const at::Tensor& tensor : tensors) {
    tensor.copy_(flat.narrow(0, offset, tensor.numel()).view(tensor.sizes()));
    offset += tensor.numel();
  }
}

int64_t total_numel(const Tensors& tensors) {
  int64_t total = 0;
  for (const at::Tensor& tensor : tensors) total += tensor.numel();
  return total;
}

void check_root(int64_t root, int size, const ErrorContext& where) {
  if (root < 0 || root >= size) fail(ErrorCode::kInvalidArgument, where, "root {} is outside [0, {})", root, size);
}

void check_count(int64_t have, int64_t want, const char* what, const ErrorContext& where) {
  if (have != want) fail(ErrorCode::kInvalidArgument, where, "{} has {} elements, expected {}", what, have, want);
}

// Per-peer byte counts of an all-to-all from split sizes in rows (empty: equal).
std::vector<uint64_t> split_bytes(const at::Tensor& tensor, const std::vector<int64_t>& splits, int size,
                                  const char* name, const ErrorContext& where) {
  const int64_t rows = tensor.dim() == 0 ? 1 : tensor.size(0);
  const uint64_t row_bytes = rows == 0 ? 0 : tensor.numel() / rows * tensor.element_size();
  std::vector<uint64_t> bytes(size);
  if (splits.empty()) {
    if (rows % size) fail(ErrorCode::kInvalidArgument, where, "{} has {} rows, not a multiple of {}", name, rows, size);
    for (auto& entry : bytes) entry = rows / size * row_bytes;
    return bytes;
  }
  if (static_cast<int>(splits.size()) != size)
    fail(ErrorCode::kInvalidArgument, where, "{} split sizes has {} entries for {} ranks", name, splits.size(), size);
  int64_t sum = 0;
  for (int peer = 0; peer < size; ++peer) {
    if (splits[peer] < 0) fail(ErrorCode::kInvalidArgument, where, "{} split {} is negative", name, peer);
    sum += splits[peer];
    bytes[peer] = splits[peer] * row_bytes;
  }
  if (sum != rows) fail(ErrorCode::kInvalidArgument, where, "{} splits add to {} rows, it has {}", name, sum, rows);
  return bytes;
}

template <typename Pointer>
std::vector<Pointer> parts_of(void* base, const std::vector<uint64_t>& bytes) {
  std::vector<Pointer> parts;
  auto* cursor = static_cast<std::byte*>(base);
  for (uint64_t size : bytes) {
    parts.push_back(cursor);
    cursor += size;
  }
  return parts;
}

}  // namespace

WorkPtr ProcessGroupStrata::broadcast(Tensors& tensors, const c10d::BroadcastOptions& opts) {
  const ErrorContext where = context("broadcast");
  check_root(opts.rootRank, getSize(), where);
  auto staged = std::make_shared<Staged>(single(tensors, "tensors", where), false, where);
  const int root = static_cast<int>(opts.rootRank);
  return enqueue(c10d::OpType::BROADCAST, "strata:broadcast", tensors, [staged, root](Communicator& comm) {
    comm.broadcast(staged->data(), staged->data(), staged->bytes(), DataType::kUint8, root);
    staged->finish();
  });
}

WorkPtr ProcessGroupStrata::allreduce(Tensors& tensors, const c10d::AllreduceOptions& opts) {
  const ErrorContext where = context("allreduce");
  auto staged = std::make_shared<Staged>(single(tensors, "tensors", where), true, where);
  const Reduction how = map_reduction(opts.reduceOp, staged->user_type(), staged->dtype(), getSize(), where);
  return enqueue(c10d::OpType::ALLREDUCE, "strata:all_reduce", tensors, [staged, how](Communicator& comm) {
    comm.all_reduce(staged->data(), staged->data(), staged->count(), staged->dtype(), how.op, how.finish);
    staged->finish();
  });
}

WorkPtr ProcessGroupStrata::allreduce_coalesced(Tensors& tensors, const c10d::AllreduceCoalescedOptions& opts) {
  const ErrorContext where = context("allreduce_coalesced");
  if (tensors.empty()) fail(ErrorCode::kInvalidArgument, where, "tensors is empty");
  for (const at::Tensor& tensor : tensors)
    if (tensor.scalar_type() != tensors.front().scalar_type())
      fail(ErrorCode::kInvalidArgument, where, "tensors mix {} and {}", c10::toString(tensor.scalar_type()),
           c10::toString(tensors.front().scalar_type()));
  const at::Tensor flat = flat_host(tensors);
  auto staged = std::make_shared<Staged>(flat, true, where);
  const Reduction how = map_reduction(opts.reduceOp, staged->user_type(), staged->dtype(), getSize(), where);
  Tensors outputs = tensors;
  return enqueue(c10d::OpType::ALLREDUCE_COALESCED, "strata:all_reduce_coalesced", tensors,
                 [staged, how, flat, outputs](Communicator& comm) {
                   comm.all_reduce(staged->data(), staged->data(), staged->count(), staged->dtype(), how.op,
                                   how.finish);
                   staged->finish();  // into `flat`
                   unflatten_into(flat, 0, outputs);
                 });
}

WorkPtr ProcessGroupStrata::reduce(Tensors& tensors, const c10d::ReduceOptions& opts) {
  const ErrorContext where = context("reduce");
  check_root(opts.rootRank, getSize(), where);
  auto staged = std::make_shared<Staged>(single(tensors, "tensors", where), true, where);
  const Reduction how = map_reduction(opts.reduceOp, staged->user_type(), staged->dtype(), getSize(), where);
  const int root = static_cast<int>(opts.rootRank);
  return enqueue(c10d::OpType::REDUCE, "strata:reduce", tensors, [staged, how, root](Communicator& comm) {
    comm.reduce(staged->data(), staged->data(), staged->count(), staged->dtype(), how.op, root, how.finish);
    staged->finish();
  });
}

WorkPtr ProcessGroupStrata::allgather(std::vector<Tensors>& outputs, Tensors& inputs,
                                      const c10d::AllgatherOptions& /*opts*/) {
  const ErrorContext where = context("allgather");
  auto input = std::make_shared<Staged>(single(inputs, "input_tensors", where), false, where);
  if (outputs.size() != 1 || static_cast<int>(outputs.front().size()) != getSize())
    fail(ErrorCode::kInvalidArgument, where, "output_tensors must be one list of {} tensors", getSize());
  check_same_shape(outputs.front(), inputs.front(), "output_tensors", where);
  Tensors targets = outputs.front();
  const at::Tensor& in = input->work();
  at::Tensor gathered = at::empty({getSize() * in.numel()}, in.options());
  return enqueue(c10d::OpType::ALLGATHER, "strata:all_gather", targets,
                 [input, gathered, targets](Communicator& comm) {
                   comm.all_gather(input->data(), gathered.data_ptr(), input->bytes(), DataType::kUint8);
                   unflatten_into(gathered, 0, targets);
                 });
}

WorkPtr ProcessGroupStrata::_allgather_base(at::Tensor& output, at::Tensor& input,
                                            const c10d::AllgatherOptions& /*opts*/) {
  const ErrorContext where = context("_allgather_base");
  check_count(output.numel(), input.numel() * getSize(), "output_tensor", where);
  if (output.scalar_type() != input.scalar_type())
    fail(ErrorCode::kInvalidArgument, where, "output_tensor is {} but input_tensor {}",
         c10::toString(output.scalar_type()), c10::toString(input.scalar_type()));
  auto in = std::make_shared<Staged>(input, false, where);
  auto out = std::make_shared<Staged>(output, false, where);
  return enqueue(c10d::OpType::_ALLGATHER_BASE, "strata:_allgather_base", {output}, [in, out](Communicator& comm) {
    comm.all_gather(in->data(), out->data(), in->bytes(), DataType::kUint8);
    out->finish();
  });
}

WorkPtr ProcessGroupStrata::allgather_coalesced(std::vector<Tensors>& outputs, Tensors& inputs,
                                                const c10d::AllgatherOptions& /*opts*/) {
  const ErrorContext where = context("allgather_coalesced");
  if (static_cast<int>(outputs.size()) != getSize())
    fail(ErrorCode::kInvalidArgument, where, "output_lists must hold {} lists", getSize());
  for (const Tensors& list : outputs) check_count(total_numel(list), total_numel(inputs), "an output list", where);
  auto input = std::make_shared<Staged>(flat_host(inputs), false, where);
  at::Tensor gathered = at::empty({getSize() * input->work().numel()}, input->work().options());
  std::vector<Tensors> targets = outputs;
  return enqueue(c10d::OpType::ALLGATHER_COALESCED, "strata:all_gather_coalesced", {},
                 [input, gathered, targets](Communicator& comm) {
                   comm.all_gather(input->data(), gathered.data_ptr(), input->bytes(), DataType::kUint8);
                   for (size_t rank = 0; rank < targets.size(); ++rank)
                     unflatten_into(gathered, rank * input->work().numel(), targets[rank]);
                 });
}

WorkPtr ProcessGroupStrata::gather(std::vector<Tensors>& outputs, Tensors& inputs, const c10d::GatherOptions& opts) {
  const ErrorContext where = context("gather");
  check_root(opts.rootRank, getSize(), where);
  auto input = std::make_shared<Staged>(single(inputs, "input_tensors", where), false, where);
  const int root = static_cast<int>(opts.rootRank);
  Tensors targets;
  at::Tensor gathered;
  if (getRank() == root) {
    if (outputs.size() != 1 || static_cast<int>(outputs.front().size()) != getSize())
      fail(ErrorCode::kInvalidArgument, where, "on the root, output_tensors must be one list of {} tensors",
           getSize());
    check_same_shape(outputs.front(), inputs.front(), "output_tensors", where);
    targets = outputs.front();
    gathered = at::empty({getSize() * input->work().numel()}, input->work().options());
  } else if (!outputs.empty() && !outputs.front().empty()) {
    fail(ErrorCode::kInvalidArgument, where, "output_tensors must be empty on non-root ranks");
  }
  return enqueue(c10d::OpType::GATHER, "strata:gather", targets,
                 [input, gathered, targets, root](Communicator& comm) {
                   comm.gather(input->data(), gathered.defined() ? gathered.data_ptr() : nullptr, input->bytes(),
                               DataType::kUint8, root);
                   if (gathered.defined()) unflatten_into(gathered, 0, targets);
                 });
}

WorkPtr ProcessGroupStrata::scatter(Tensors& outputs, std::vector<Tensors>& inputs,
                                    const c10d::ScatterOptions& opts) {
  const ErrorContext where = context("scatter");
  check_root(opts.rootRank, getSize(), where);
  auto output = std::make_shared<Staged>(single(outputs, "output_tensors", where), false, where);
  const int root = static_cast<int>(opts.rootRank);
  at::Tensor source;
  if (getRank() == root) {
    if (inputs.size() != 1 || static_cast<int>(inputs.front().size()) != getSize())
      fail(ErrorCode::kInvalidArgument, where, "on the root, input_tensors must be one list of {} tensors",
           getSize());
    check_same_shape(inputs.front(), outputs.front(), "input_tensors", where);
    source = flat_host(inputs.front());
  } else if (!inputs.empty() && !inputs.front().empty()) {
    fail(ErrorCode::kInvalidArgument, where, "input_tensors must be empty on non-root ranks");
  }
  return enqueue(c10d::OpType::SCATTER, "strata:scatter", outputs, [output, source, root](Communicator& comm) {
    comm.scatter(source.defined() ? source.data_ptr() : nullptr, output->data(), output->bytes(), DataType::kUint8,
                 root);
    output->finish();
  });
}

WorkPtr ProcessGroupStrata::reduce_scatter(Tensors& outputs, std::vector<Tensors>& inputs,
                                           const c10d::ReduceScatterOptions& opts) {
  const ErrorContext where = context("reduce_scatter");
  auto output = std::make_shared<Staged>(single(outputs, "output_tensors", where), true, where);
  if (inputs.size() != 1 || static_cast<int>(inputs.front().size()) != getSize())
    fail(ErrorCode::kInvalidArgument, where, "input_tensors must be one list of {} tensors", getSize());
  check_same_shape(inputs.front(), outputs.front(), "input_tensors", where);
  auto input = std::make_shared<Staged>(flat_host(inputs.front()), true, where);
  const Reduction how = map_reduction(opts.reduceOp, output->user_type(), output->dtype(), getSize(), where);
  return enqueue(c10d::OpType::REDUCE_SCATTER, "strata:reduce_scatter", outputs,
                 [input, output, how](Communicator& comm) {
                   comm.reduce_scatter(input->data(), output->data(), output->count(), output->dtype(), how.op,
                                       how.finish);
                   output->finish();
                 });
}

WorkPtr ProcessGroupStrata::_reduce_scatter_base(at::Tensor& output, at::Tensor& input,
                                                 const c10d::ReduceScatterOptions& opts) {
  const ErrorContext where = context("_reduce_scatter_base");
  check_count(input.numel(), output.numel() * getSize(), "input_tensor", where);
  auto in = std::make_shared<Staged>(input, true, where);
  auto out = std::make_shared<Staged>(output, true, where);
  const Reduction how = map_reduction(opts.reduceOp, out->user_type(), out->dtype(), getSize(), where);
  return enqueue(c10d::OpType::_REDUCE_SCATTER_BASE, "strata:_reduce_scatter_base", {output},
                 [in, out, how](Communicator& comm) {
                   comm.reduce_scatter(in->data(), out->data(), out->count(), out->dtype(), how.op, how.finish);
                   out->finish();
                 });
}

WorkPtr ProcessGroupStrata::alltoall_base(at::Tensor& output, at::Tensor& input, std::vector<int64_t>& output_splits,
                                          std::vector<int64_t>& input_splits, const c10d::AllToAllOptions& /*opts*/) {
  const ErrorContext where = context("alltoall_base");
  auto in = std::make_shared<Staged>(input, false, where);
  auto out = std::make_shared<Staged>(output, false, where);
  const auto send_bytes = split_bytes(input, input_splits, getSize(), "input", where);
  const auto recv_bytes = split_bytes(output, output_splits, getSize(), "output", where);
  const bool even = input_splits.empty() && output_splits.empty();
  if (even) check_count(output.numel(), input.numel(), "output", where);
  return enqueue(c10d::OpType::ALLTOALL_BASE, "strata:all_to_all", {output},
                 [in, out, send_bytes, recv_bytes, even](Communicator& comm) {
                   if (even) {
                     comm.all_to_all(in->data(), out->data(), send_bytes.front(), DataType::kUint8);
                   } else {
                     exchange(comm, parts_of<const std::byte*>(in->data(), send_bytes), send_bytes,
                              parts_of<std::byte*>(out->data(), recv_bytes), recv_bytes);
                   }
                   out->finish();
                 });
}

WorkPtr ProcessGroupStrata::alltoall(Tensors& outputs, Tensors& inputs, const c10d::AllToAllOptions& /*opts*/) {
  const ErrorContext where = context("alltoall");
  if (static_cast<int>(inputs.size()) != getSize() || static_cast<int>(outputs.size()) != getSize())
    fail(ErrorCode::kInvalidArgument, where, "input and output lists must hold {} tensors each", getSize());
  auto staged = std::make_shared<std::vector<Staged>>();
  std::vector<uint64_t> send_bytes, recv_bytes;
  for (const at::Tensor& tensor : inputs) send_bytes.push_back(staged->emplace_back(tensor, false, where).bytes());
  for (const at::Tensor& tensor : outputs) recv_bytes.push_back(staged->emplace_back(tensor, false, where).bytes());
  const size_t size = inputs.size();
  return enqueue(c10d::OpType::ALLTOALL, "strata:all_to_all", outputs,
                 [staged, send_bytes, recv_bytes, size](Communicator& comm) {
                   std::vector<const std::byte*> send_parts;
                   std::vector<std::byte*> recv_parts;
                   for (size_t i = 0; i < size; ++i) {
                     send_parts.push_back(static_cast<const std::byte*>((*staged)[i].data()));
                     recv_parts.push_back(static_cast<std::byte*>((*staged)[size + i].data()));
                   }
                   exchange(comm, send_parts, send_bytes, recv_parts, recv_bytes);
                   for (size_t i = 0; i < size; ++i) (*staged)[size + i].finish();
                 });
}

}  // namespace strata::torch_backend
