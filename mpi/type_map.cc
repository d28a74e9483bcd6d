#include "type_map.h"

#include <utility>

namespace strata::mpi {
namespace {

struct TypeEntry {
  MPI_Datatype mpi;
  DataType strata;
};

std::vector<TypeEntry> make_type_table() {
  static_assert(sizeof(long) == 8 && sizeof(int) == 4, "the type table assumes LP64");
  std::vector<TypeEntry> table = {
      {MPI_CHAR, DataType::kInt8},           {MPI_SIGNED_CHAR, DataType::kInt8},
      {MPI_INT8_T, DataType::kInt8},         {MPI_UNSIGNED_CHAR, DataType::kUint8},
      {MPI_UINT8_T, DataType::kUint8},       {MPI_INT, DataType::kInt32},
      {MPI_INT32_T, DataType::kInt32},       {MPI_UNSIGNED, DataType::kUint32},
      {MPI_UINT32_T, DataType::kUint32},     {MPI_LONG, DataType::kInt64},
      {MPI_LONG_LONG, DataType::kInt64},     {MPI_INT64_T, DataType::kInt64},
      {MPI_UNSIGNED_LONG, DataType::kUint64}, {MPI_UNSIGNED_LONG_LONG, DataType::kUint64},
      {MPI_UINT64_T, DataType::kUint64},     {MPI_FLOAT, DataType::kFloat32},
      {MPI_DOUBLE, DataType::kFloat64},
  };
  // Fortran's types, by the sizes this MPI gives them.
  const std::pair<MPI_Datatype, bool> fortran[] = {
      {MPI_INTEGER, false}, {MPI_INTEGER4, false}, {MPI_INTEGER8, false}, {MPI_INTEGER1, false},
      {MPI_REAL, true},     {MPI_REAL4, true},     {MPI_REAL8, true},     {MPI_DOUBLE_PRECISION, true}};
  for (const auto& [type, floating] : fortran) {
    if (type == MPI_DATATYPE_NULL) continue;
    int size = 0;
    if (PMPI_Type_size(type, &size) != MPI_SUCCESS) continue;
    if (floating && size == 4) table.push_back({type, DataType::kFloat32});
    if (floating && size == 8) table.push_back({type, DataType::kFloat64});
    if (!floating && size == 1) table.push_back({type, DataType::kInt8});
    if (!floating && size == 4) table.push_back({type, DataType::kInt32});
    if (!floating && size == 8) table.push_back({type, DataType::kInt64});
  }
  return table;
}

}  // namespace

std::optional<DataType> reduction_type(MPI_Datatype type) {
  static const std::vector<TypeEntry> table = make_type_table();
  for (const TypeEntry& entry : table)
    if (entry.mpi == type) return entry.strata;
  return std::nullopt;
}

std::optional<ReduceOp> reduction_op(MPI_Op op) {
  if (op == MPI_SUM) return ReduceOp::kSum;
  if (op == MPI_PROD) return ReduceOp::kProd;
  if (op == MPI_MAX) return ReduceOp::kMax;
  if (op == MPI_MIN) return ReduceOp::kMin;
  return std::nullopt;
}

uint64_t type_bytes(int count, MPI_Datatype type) {
  int size = 0;
  PMPI_Type_size(type, &size);
  return static_cast<uint64_t>(count) * static_cast<uint64_t>(size);
}

ByteView::ByteView(const void* buffer, int count, MPI_Datatype type, bool is_input)
    : buffer_(const_cast<void*>(buffer)), count_(count), type_(type) {
  int size = 0;
  MPI_Aint lb = 0, extent = 0, true_lb = 0, true_extent = 0;
  PMPI_Type_size(type, &size);
  PMPI_Type_get_extent(type, &lb, &extent);
  PMPI_Type_get_true_extent(type, &true_lb, &true_extent);
  bytes_ = static_cast<uint64_t>(count) * static_cast<uint64_t>(size);
  if (lb == 0 && true_lb == 0 && extent == size && true_extent == size) {
    data_ = static_cast<std::byte*>(buffer_);  // contiguous: the caller's memory itself
    return;
  }
  packed_.resize(bytes_);
  data_ = packed_.data();
  if (is_input && bytes_ > 0) {
    int position = 0;
    PMPI_Pack(buffer, count, type, packed_.data(), static_cast<int>(bytes_), &position, MPI_COMM_SELF);
  }
}

void ByteView::unpack() {
  if (packed_.empty()) return;
  int position = 0;
  PMPI_Unpack(packed_.data(), static_cast<int>(bytes_), &position, buffer_, count_, type_, MPI_COMM_SELF);
}

}  // namespace strata::mpi
