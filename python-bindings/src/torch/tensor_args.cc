#include "tensor_args.h"


namespace strata::torch_backend {
namespace {

// The engine's type for a torch dtype it reduces natively.
std::optional<DataType> native_type(at::ScalarType type) {
  switch (type) {
    case at::kChar: return DataType::kInt8;
    case at::kByte: return DataType::kUint8;
    case at::kInt: return DataType::kInt32;
    case at::kLong: return DataType::kInt64;
    case at::kHalf: return DataType::kFloat16;
    case at::kFloat: return DataType::kFloat32;
    case at::kDouble: return DataType::kFloat64;
    case at::kBFloat16: return DataType::kBFloat16;
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
    case at::kFloat8_e4m3fn: return DataType::kFloat8E4M3;
    case at::kFloat8_e5m2: return DataType::kFloat8E5M2;
#endif
    default: return std::nullopt;
  }
}

double premul_factor(const c10d::ReduceOp& op, const ErrorContext& context) {
  const auto* supplement = dynamic_cast<const c10d::NCCLPreMulSumSupplement*>(op.supplement_.get());
  if (supplement == nullptr) fail(ErrorCode::kInvalidArgument, context, "PREMUL_SUM without a factor");
  if (supplement->tensor_factors.empty()) return supplement->double_factor;
  return supplement->tensor_factors.front().to(at::kCPU).to(at::kDouble).item<double>();
}

}  // namespace

Staged::Staged(const at::Tensor& user, bool reducing, const ErrorContext& context)
    : user_(user), reducing_(reducing) {
  if (!user.defined()) fail(ErrorCode::kInvalidArgument, context, "tensor is undefined");
  if (user.is_sparse()) fail(ErrorCode::kInvalidArgument, context, "sparse tensors are not supported");
  at::Tensor host = user.device().is_cpu() ? user : user.to(at::kCPU);  // device memory: staged through the host
  host = host.contiguous();
  if (!reducing) {
    work_ = host;
  } else if (auto type = native_type(host.scalar_type())) {
    work_ = host;
    dtype_ = *type;
  } else if (host.scalar_type() == at::kBool) {
    work_ = host.view(at::kByte);
  } else if (host.scalar_type() == at::kShort) {
    work_ = host.to(at::kInt);  // sums and products wrap exactly as in 16 bits once narrowed back
    dtype_ = DataType::kInt32;
  } else if (host.is_complex()) {
    work_ = at::view_as_real(host);
    dtype_ = host.scalar_type() == at::kComplexDouble ? DataType::kFloat64 : DataType::kFloat32;
  } else {
    fail(ErrorCode::kInvalidArgument, context, "dtype {} cannot be reduced", c10::toString(host.scalar_type()));
  }
  // Views (bool as bytes, complex as pairs) of the user's own memory need no copy.
  copy_back_ = !user.device().is_cpu() || work_.data_ptr() != user.data_ptr();
}

void Staged::finish() const {
  if (!copy_back_) return;
  if (user_.is_complex() && work_.scalar_type() != user_.scalar_type()) {
    user_.copy_(at::view_as_complex(work_));
  } else if (user_.scalar_type() == at::kBool) {
    user_.copy_(work_.view(at::kBool));
  } else {
    user_.copy_(work_);
  }
}

Reduction map_reduction(const c10d::ReduceOp& op, at::ScalarType user_type, DataType engine_type, int nranks,
                        const ErrorContext& context) {
  const bool is_bool = user_type == at::kBool;
  const bool is_complex = at::isComplexType(user_type);
  Reduction out;
  switch (op.op_) {
    case c10d::ReduceOp::SUM: out.op = is_bool ? ReduceOp::kMax : ReduceOp::kSum; break;
    case c10d::ReduceOp::PRODUCT: out.op = is_bool ? ReduceOp::kMin : ReduceOp::kProd; break;
    case c10d::ReduceOp::MIN: out.op = ReduceOp::kMin; break;
    case c10d::ReduceOp::MAX: out.op = ReduceOp::kMax; break;
    case c10d::ReduceOp::BAND: out.op = ReduceOp::kMin; break;
    case c10d::ReduceOp::BOR: out.op = ReduceOp::kMax; break;
    case c10d::ReduceOp::AVG:
      out.finish.kind = FinishKind::kDivide;
      out.finish.divisor = static_cast<uint64_t>(nranks);
      break;
    case c10d::ReduceOp::PREMUL_SUM:
      out.finish.kind = FinishKind::kMultiply;
      encode_scalar(premul_factor(op, context), engine_type, out.finish.scalar);
      break;
    default: fail(ErrorCode::kInvalidArgument, context, "reduce op {} is not supported", static_cast<int>(op.op_));
  }
  const bool bitwise = op.op_ == c10d::ReduceOp::BAND || op.op_ == c10d::ReduceOp::BOR;
  if (bitwise && !is_bool)
    fail(ErrorCode::kInvalidArgument, context, "bitwise reduce ops are supported on bool tensors only, not {}",
         c10::toString(user_type));
  if (is_bool && (op.op_ == c10d::ReduceOp::AVG || op.op_ == c10d::ReduceOp::PREMUL_SUM))
    fail(ErrorCode::kInvalidArgument, context, "AVG and PREMUL_SUM are not defined for bool");
  if (is_complex && out.op != ReduceOp::kSum)
    fail(ErrorCode::kInvalidArgument, context, "complex tensors reduce with SUM, AVG or PREMUL_SUM only");
  return out;
}

void check_same_shape(const std::vector<at::Tensor>& tensors, const at::Tensor& like, const char* name,
                      const ErrorContext& context) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].scalar_type() != like.scalar_type())
      fail(ErrorCode::kInvalidArgument, context, "{}[{}] is {} but the input is {}", name, i,
           c10::toString(tensors[i].scalar_type()), c10::toString(like.scalar_type()));
    if (tensors[i].numel() != like.numel())
      fail(ErrorCode::kInvalidArgument, context, "{}[{}] has {} elements but the input {}", name, i,
           tensors[i].numel(), like.numel());
  }
}

const at::Tensor& single(const std::vector<at::Tensor>& tensors, const char* name, const ErrorContext& context) {
  if (tensors.size() != 1)
    fail(ErrorCode::kInvalidArgument, context, "{} holds {} tensors; strata takes one per process", name,
         tensors.size());
  return tensors.front();
}

}  // namespace strata::torch_backend
