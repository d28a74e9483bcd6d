#include "py_communicator.h"

#include <pybind11/stl.h>

#include <cstring>

#include "buffer_args.h"
#include "py_introspection.h"
#include "collectives/request.h"
#include "runtime/bootstrap/tcp_bootstrap.h"
#include "runtime/config/config.h"

namespace py = pybind11;

namespace strata::python {
namespace {

using collectives::Collective;

Collective parse_collective(const std::string& name, const ErrorContext& context) {
  for (int i = 0; i < collectives::kCollectiveCount; ++i)
    if (collectives::collective_name(static_cast<Collective>(i)) == name) return static_cast<Collective>(i);
  fail(ErrorCode::kInvalidArgument, context, "unknown collective '{}'", name);
}

DataType parse_dtype(const std::string& name, const ErrorContext& context) {
  if (auto type = parse_datatype(name)) return *type;
  fail(ErrorCode::kInvalidArgument, context, "dtype '{}' is not one Strata reduces or moves", name);
}

// The finishing step of "avg" (divide by the rank count) and "premul_sum"
// (multiply by `scalar`).
Finish parse_finish(const std::string& kind, uint64_t divisor, double scalar, DataType type,
                    const ErrorContext& context) {
  Finish finish;
  if (kind == "none") return finish;
  if (kind == "divide") {
    finish.kind = FinishKind::kDivide;
    finish.divisor = divisor;
    return finish;
  }
  if (kind != "multiply") fail(ErrorCode::kInvalidArgument, context, "unknown finish '{}'", kind);
  finish.kind = FinishKind::kMultiply;
  encode_scalar(scalar, type, finish.scalar);
  return finish;
}

runtime::UniqueId unique_id_from(const py::bytes& bytes, int rank) {
  const std::string raw = bytes;
  runtime::UniqueId id{};
  if (raw.size() != id.bytes.size())
    fail(ErrorCode::kInvalidArgument, {rank, -1, "Communicator"}, "unique_id has {} bytes, expected {}", raw.size(),
         id.bytes.size());
  std::memcpy(id.bytes.data(), raw.data(), raw.size());
  return id;
}

py::bytes to_bytes(const runtime::UniqueId& id) { return py::bytes(id.bytes.data(), id.bytes.size()); }

std::unique_ptr<PyCommunicator> connect(int nranks, int rank, const py::bytes& unique_id, const std::string& name,
                                        double timeout_s, const std::string& compression) {
  const ErrorContext context{rank, -1, "Communicator"};
  if (nranks < 1) fail(ErrorCode::kInvalidArgument, context, "nranks {} must be at least 1", nranks);
  if (rank < 0 || rank >= nranks) fail(ErrorCode::kInvalidArgument, context, "rank {} is outside [0, {})", rank, nranks);
  if (timeout_s < 0) fail(ErrorCode::kInvalidArgument, context, "timeout {} must not be negative", timeout_s);
  const runtime::UniqueId id = unique_id_from(unique_id, rank);
  const double wait_s = timeout_s > 0 ? timeout_s : runtime::config().timeout_s;
  py::gil_scoped_release release;
  std::shared_ptr<runtime::Bootstrap> bootstrap = runtime::connect_tcp_bootstrap(id, rank, nranks, wait_s, runtime::join_policy());
  auto comm = runtime::Communicator::create(
      *bootstrap, {.name = name.empty() ? std::string("python") : name, .timeout_s = timeout_s, .compression = compression});
  return std::make_unique<PyCommunicator>(std::move(comm), std::move(bootstrap));
}

std::vector<std::unique_ptr<PyCommunicator>> create_local(int nranks, const std::string& name) {
  std::vector<std::unique_ptr<PyCommunicator>> out;
  for (auto& comm : runtime::Communicator::create_local(nranks, {name.empty() ? std::string("local") : name}))
    out.push_back(std::make_unique<PyCommunicator>(std::move(comm), nullptr));
  return out;
}

struct RunArgs {
  std::string collective;
  py::handle send, recv;
  uint64_t count = 0;
  std::string dtype, op, finish;
  int root = 0;
  uint64_t divisor = 1;
  double scalar = 0;
  runtime::ErrorFeedback* error_feedback = nullptr;
};

void run(const PyCommunicator& self, const RunArgs& args) {
  auto comm = self.get(args.collective.c_str());
  const ErrorContext context{comm->rank(), -1, args.collective};
  runtime::Operation op;
  op.request.collective = parse_collective(args.collective, context);
  op.request.count = args.count;
  op.request.dtype = parse_dtype(args.dtype, context);
  auto reduce = parse_reduce_op(args.op);
  if (!reduce) fail(ErrorCode::kInvalidArgument, context, "unknown op '{}'", args.op);
  op.request.op = *reduce;
  op.request.finish = parse_finish(args.finish, args.divisor, args.scalar, op.request.dtype, context);
  op.request.root = args.root;
  op.request.nranks = comm->size();
  const bool reads_send = op.request.collective != Collective::kRecv;
  const bool writes_recv = op.request.collective != Collective::kSend;
  BufferArg send(reads_send ? args.send : py::none(), "send", false, context);
  BufferArg recv(writes_recv ? args.recv : py::none(), "recv", true, context);
  // The engine trusts sizes; check them against the memory actually held.
  const uint64_t send_needed = op.request.send_buffer_bytes();
  const uint64_t recv_needed = op.request.recv_buffer_bytes(comm->rank());
  const bool root_only_send = (op.request.collective == Collective::kBroadcast ||
                               op.request.collective == Collective::kScatter) && comm->rank() != args.root;
  if (reads_send && !root_only_send && send.bytes() < send_needed)
    fail(ErrorCode::kInvalidArgument, context, "send holds {} bytes, the operation reads {}", send.bytes(), send_needed);
  if (writes_recv && recv.bytes() < recv_needed)
    fail(ErrorCode::kInvalidArgument, context, "recv holds {} bytes, the operation writes {}", recv.bytes(),
         recv_needed);
  op.send = send.data();
  op.recv = recv.data();
  op.error_feedback = args.error_feedback;
  py::gil_scoped_release release;
  comm->run(std::move(op));
}

py::dict plan_dict(const PyCommunicator& self, const std::string& collective, uint64_t count,
                   const std::string& dtype, const std::string& op, int root) {
  auto comm = self.get("plan");
  const ErrorContext context{comm->rank(), -1, "plan"};
  runtime::Operation operation;
  operation.request.collective = parse_collective(collective, context);
  operation.request.count = count;
  operation.request.dtype = parse_dtype(dtype, context);
  auto reduce = parse_reduce_op(op);
  if (!reduce) fail(ErrorCode::kInvalidArgument, context, "unknown op '{}'", op);
  operation.request.op = *reduce;
  operation.request.root = root;
  const runtime::PlanChoice choice = comm->plan(operation);
  py::dict out;
  out["algorithm"] = choice.algorithm;
  out["predicted_seconds"] = choice.predicted_seconds;
  out["reason"] = choice.reason;
  return out;
}

}  // namespace

std::shared_ptr<runtime::Communicator> PyCommunicator::get(const char* operation) const {
  if (!comm_) fail(ErrorCode::kInvalidUsage, {last_rank_, -1, operation}, "the communicator is destroyed");
  return comm_;
}

void PyCommunicator::destroy() {
  if (!comm_) return;
  last_rank_ = comm_->rank();
  auto comm = std::move(comm_);
  auto bootstrap = std::move(bootstrap_);
  py::gil_scoped_release release;  // teardown may wait on the transport
  comm.reset();
  bootstrap.reset();
}

void bind_communicator(py::module_& m) {
  m.def("get_unique_id", [](const std::string& ifname) {
    const std::string interface = ifname.empty() ? runtime::config().socket_ifname : ifname;
    return to_bytes(runtime::create_unique_id(interface, runtime::config().timeout_s, runtime::join_policy()));
  }, py::arg("ifname") = "");
  m.def("unique_id_at", [](const std::string& host, int port, uint64_t key) {
    if (port <= 0 || port > 65535)
      fail(ErrorCode::kInvalidArgument, {-1, -1, "unique_id_at"}, "port {} is outside 1..65535", port);
    return to_bytes(runtime::unique_id_at(host, static_cast<uint16_t>(port), key, runtime::join_policy()));
  }, py::arg("host"), py::arg("port"), py::arg("session_key"));
  m.def("start_root_for", [](const py::bytes& id, double timeout_s) {
    runtime::start_root_for(unique_id_from(id, 0), timeout_s > 0 ? timeout_s : runtime::config().timeout_s, runtime::join_policy());
  }, py::arg("unique_id"), py::arg("timeout") = 0.0);
  m.def("group_start", &runtime::group_start);
  m.def("group_end", &runtime::group_end, py::call_guard<py::gil_scoped_release>());
  m.def("group_end_simulated", &runtime::group_end_simulated);
  m.def("group_depth", &runtime::group_depth);

  py::class_<runtime::ErrorFeedback>(m, "ErrorFeedback")
      .def(py::init<>())
      .def("reset", &runtime::ErrorFeedback::reset)
      .def_property_readonly("count", &runtime::ErrorFeedback::count)
      .def_property_readonly("residual", [](const runtime::ErrorFeedback& self) {
        const auto values = self.residual();
        return std::vector<float>(values.begin(), values.end());
      });

  py::class_<PyCommunicator>(m, "Communicator")
      .def(py::init(&connect), py::arg("nranks"), py::arg("rank"), py::arg("unique_id"), py::arg("name") = "",
           py::arg("timeout") = 0.0, py::arg("compression") = "")
      .def_static("local", &create_local, py::arg("nranks"), py::arg("name") = "")
      .def_property_readonly("rank", [](const PyCommunicator& self) { return self.get("rank")->rank(); })
      .def_property_readonly("size", [](const PyCommunicator& self) { return self.get("size")->size(); })
      .def_property_readonly("name", [](const PyCommunicator& self) { return self.get("name")->name(); })
      .def_property_readonly("timeout", [](const PyCommunicator& self) { return self.get("timeout")->timeout_s(); })
      .def_property_readonly("closed", &PyCommunicator::closed)
      .def("run", [](const PyCommunicator& self, const std::string& collective, py::handle send, py::handle recv,
                     uint64_t count, const std::string& dtype, const std::string& op, int root,
                     const std::string& finish, uint64_t divisor, double scalar,
                     runtime::ErrorFeedback* error_feedback) {
             run(self, {collective, send, recv, count, dtype, op, finish, root, divisor, scalar, error_feedback});
           }, py::arg("collective"), py::arg("send"), py::arg("recv"), py::arg("count"), py::arg("dtype"),
           py::arg("op") = "sum", py::arg("root") = 0, py::arg("finish") = "none", py::arg("divisor") = 1,
           py::arg("scalar") = 0.0, py::arg("error_feedback") = nullptr)
      .def_property_readonly("compression",
                             [](const PyCommunicator& self) { return self.get("compression")->compression(); })
      .def("barrier", [](const PyCommunicator& self) {
             auto comm = self.get("barrier");
             py::gil_scoped_release release;
             comm->barrier();
           })
      .def("split", [](const PyCommunicator& self, int color, int key, const std::string& name, double timeout_s,
                       const std::string& compression) -> std::unique_ptr<PyCommunicator> {
             auto comm = self.get("split");
             std::shared_ptr<runtime::Communicator> child;
             {
               py::gil_scoped_release release;
               child = comm->split(color, key, {.name = name, .timeout_s = timeout_s, .compression = compression});
             }
             if (!child) return nullptr;
             return std::make_unique<PyCommunicator>(std::move(child), nullptr);
           }, py::arg("color"), py::arg("key"), py::arg("name") = "", py::arg("timeout") = 0.0,
           py::arg("compression") = "")
      .def("shrink", [](const PyCommunicator& self, const std::vector<int>& exclude, const std::string& name,
                        double timeout_s) {
             auto comm = self.get("shrink");
             std::shared_ptr<runtime::Communicator> child;
             {
               py::gil_scoped_release release;
               child = comm->shrink(exclude, {name, timeout_s});
             }
             return std::make_unique<PyCommunicator>(std::move(child), nullptr);
           }, py::arg("exclude"), py::arg("name") = "", py::arg("timeout") = 0.0)
      .def("revoke", [](const PyCommunicator& self) { self.get("revoke")->revoke(); })
      .def_property_readonly("revoked", [](const PyCommunicator& self) { return self.get("revoked")->revoked(); })
      .def("abort", [](const PyCommunicator& self) { self.get("abort")->abort(); })
      .def_property_readonly("aborted", [](const PyCommunicator& self) { return self.get("aborted")->aborted(); })
      .def("async_error", [](const PyCommunicator& self) -> py::object {
             auto error = self.get("async_error")->async_error();
             if (!error) return py::none();
             return py::str(error->what());
           })
      .def("destroy", &PyCommunicator::destroy)
      .def("plan", &plan_dict, py::arg("collective"), py::arg("count"), py::arg("dtype"), py::arg("op") = "sum",
           py::arg("root") = 0)
      .def("topology", [](const PyCommunicator& self) {
             auto comm = self.get("topology");
             return topology_dict(comm->topology(), comm->rank());
           });
}

}  // namespace strata::python
