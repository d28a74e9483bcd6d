/* Reads and writes one element of any ncclDataType_t as a double, so the
 * MPI test can fill and check buffers of every type with one loop. Exact
 * for the small integers and halves the tests use. Needs only the enum
 * values, so it works with NVIDIA's header and ours alike. */
#ifndef STRATA_TESTS_NCCL_ELEMENT_VALUES_H
#define STRATA_TESTS_NCCL_ELEMENT_VALUES_H

#include <stddef.h>

#include <nccl.h>

size_t element_size(ncclDataType_t type);
const char* element_type_name(ncclDataType_t type);
void element_store(ncclDataType_t type, void* buffer, size_t index, double value);
double element_load(ncclDataType_t type, const void* buffer, size_t index);

#endif
