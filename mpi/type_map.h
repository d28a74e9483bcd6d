// MPI datatypes and ops as Strata's, and any datatype's data as contiguous
// bytes for the collectives that only move data.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "common/datatype.h"

namespace strata::mpi {

// The Strata type of a predefined MPI type Strata reduces; nullopt for the
// rest (derived types, long double, complex, bool, pair types). MPI requires
// the same datatype on every rank of a reduction, so every rank decides alike.
std::optional<DataType> reduction_type(MPI_Datatype type);
// MPI_SUM/PROD/MAX/MIN; nullopt for the logical, bitwise, MAXLOC/MINLOC and user ops.
std::optional<ReduceOp> reduction_op(MPI_Op op);

// `count` elements of `type` at `buffer` as contiguous bytes: the buffer
// itself when the type is contiguous, else a packed copy (PMPI_Pack), which
// unpack() writes back for outputs.
class ByteView {
 public:
  ByteView(const void* buffer, int count, MPI_Datatype type, bool is_input);
  std::byte* data() { return data_; }
  uint64_t size() const { return bytes_; }
  // Outputs only: copies the packed bytes into the caller's buffer.
  void unpack();

 private:
  void* buffer_;
  int count_;
  MPI_Datatype type_;
  std::byte* data_ = nullptr;
  uint64_t bytes_ = 0;
  std::vector<std::byte> packed_;
};

// Bytes of `count` elements of `type` (its size, not its extent).
uint64_t type_bytes(int count, MPI_Datatype type);

}  // namespace strata::mpi
