/* Every ABI fact the layout test compares, as one list of C expressions.
 * abi_table.c evaluates the list once against NVIDIA's nccl.h and once
 * against ours; abi_layout_test.cc prints the expressions by name. */
#ifndef STRATA_TESTS_NCCL_ABI_FIELDS_H
#define STRATA_TESTS_NCCL_ABI_FIELDS_H

#define ABI_CONFIG_FIELDS(X)                                                                      \
  X(offsetof(ncclConfig_t, size)) X(offsetof(ncclConfig_t, magic)) X(offsetof(ncclConfig_t, version)) \
  X(offsetof(ncclConfig_t, blocking)) X(offsetof(ncclConfig_t, cgaClusterSize))                   \
  X(offsetof(ncclConfig_t, minCTAs)) X(offsetof(ncclConfig_t, maxCTAs))                           \
  X(offsetof(ncclConfig_t, netName)) X(offsetof(ncclConfig_t, splitShare))                        \
  X(offsetof(ncclConfig_t, trafficClass)) X(offsetof(ncclConfig_t, commName))                     \
  X(offsetof(ncclConfig_t, collnetEnable)) X(offsetof(ncclConfig_t, CTAPolicy))                   \
  X(offsetof(ncclConfig_t, shrinkShare)) X(offsetof(ncclConfig_t, nvlsCTAs))                      \
  X(offsetof(ncclConfig_t, nChannelsPerNetPeer)) X(offsetof(ncclConfig_t, nvlinkCentricSched))    \
  X(sizeof(ncclConfig_t)) X(_Alignof(ncclConfig_t))

/* `init` is an ncclConfig_t made with NCCL_CONFIG_INITIALIZER, `sim` an
 * ncclSimInfo_t made with NCCL_SIM_INFO_INITIALIZER. */
#define ABI_INITIALIZER_FIELDS(X)                                                                  \
  X(init.size) X(init.magic) X(init.version) X(init.blocking) X(init.cgaClusterSize) X(init.minCTAs) \
  X(init.maxCTAs) X(init.netName == NULL) X(init.splitShare) X(init.trafficClass)                 \
  X(init.commName == NULL) X(init.collnetEnable) X(init.CTAPolicy) X(init.shrinkShare)            \
  X(init.nvlsCTAs) X(init.nChannelsPerNetPeer) X(init.nvlinkCentricSched) X(sim.size) X(sim.magic) \
  X(sim.version) X(sim.estimatedTime * 1000) X(sizeof(ncclSimInfo_t))                              \
  X(offsetof(ncclSimInfo_t, estimatedTime))

#define ABI_TYPE_FIELDS(X)                                                                         \
  X(sizeof(ncclUniqueId)) X(NCCL_UNIQUE_ID_BYTES) X(sizeof(ncclResult_t)) X(sizeof(ncclDataType_t)) \
  X(sizeof(ncclRedOp_t)) X(sizeof(ncclScalarResidence_t)) X(sizeof(ncclComm_t))                   \
  X(sizeof(ncclWindow_t)) X(sizeof(cudaStream_t)) X(NCCL_COMM_NULL == NULL)

#define ABI_ENUM_FIELDS(X)                                                                         \
  X(ncclSuccess) X(ncclUnhandledCudaError) X(ncclSystemError) X(ncclInternalError)                 \
  X(ncclInvalidArgument) X(ncclInvalidUsage) X(ncclRemoteError) X(ncclInProgress) X(ncclNumResults) \
  X(ncclInt8) X(ncclChar) X(ncclUint8) X(ncclInt32) X(ncclInt) X(ncclUint32) X(ncclInt64)          \
  X(ncclUint64) X(ncclFloat16) X(ncclHalf) X(ncclFloat32) X(ncclFloat) X(ncclFloat64)              \
  X(ncclDouble) X(ncclBfloat16) X(ncclFloat8e4m3) X(ncclFloat8e5m2) X(ncclNumTypes) X(ncclSum)     \
  X(ncclProd) X(ncclMax) X(ncclMin) X(ncclAvg) X(ncclNumOps) X(ncclMaxRedOp) X(ncclNumOps_dummy)   \
  X(ncclScalarDevice) X(ncclScalarHostImmediate)

#define ABI_MACRO_FIELDS(X)                                                                        \
  X(NCCL_MAJOR) X(NCCL_MINOR) X(NCCL_PATCH) X(sizeof(NCCL_SUFFIX)) X(NCCL_VERSION_CODE)            \
  X(NCCL_VERSION(2, 8, 4)) X(NCCL_VERSION(2, 28, 9)) X(NCCL_VERSION(3, 0, 1))                      \
  X(NCCL_CONFIG_UNDEF_INT) X(NCCL_CONFIG_UNDEF_PTR == NULL) X(NCCL_SPLIT_NOCOLOR)                  \
  X(NCCL_UNDEF_FLOAT * 1000) X(NCCL_WIN_DEFAULT) X(NCCL_WIN_COLL_SYMMETRIC)                        \
  X(NCCL_WIN_REQUIRED_ALIGNMENT) X(NCCL_CTA_POLICY_DEFAULT) X(NCCL_CTA_POLICY_EFFICIENCY)          \
  X(NCCL_CTA_POLICY_ZERO) X(NCCL_SHRINK_DEFAULT) X(NCCL_SHRINK_ABORT) X(NCCL_REVOKE_DEFAULT)

#define ABI_FIELDS(X)                                                                              \
  ABI_CONFIG_FIELDS(X) ABI_INITIALIZER_FIELDS(X) ABI_TYPE_FIELDS(X) ABI_ENUM_FIELDS(X) ABI_MACRO_FIELDS(X)

/* Every function of NCCL 2.28's header (each also exists as p<name>). */
#define ABI_FUNCTIONS(X)                                                                           \
  X(ncclMemAlloc) X(ncclMemFree) X(ncclGetVersion) X(ncclGetUniqueId) X(ncclCommInitRankConfig)    \
  X(ncclCommInitRank) X(ncclCommInitAll) X(ncclCommFinalize) X(ncclCommDestroy) X(ncclCommAbort)   \
  X(ncclCommRevoke) X(ncclCommSplit) X(ncclCommShrink) X(ncclCommInitRankScalable)                 \
  X(ncclGetErrorString) X(ncclGetLastError) X(ncclResetDebugInit) X(ncclCommGetAsyncError)         \
  X(ncclCommCount) X(ncclCommCuDevice) X(ncclCommUserRank) X(ncclCommRegister)                     \
  X(ncclCommDeregister) X(ncclCommWindowRegister) X(ncclCommWindowDeregister)                      \
  X(ncclRedOpCreatePreMulSum) X(ncclRedOpDestroy) X(ncclReduce) X(ncclBcast) X(ncclBroadcast)      \
  X(ncclAllReduce) X(ncclReduceScatter) X(ncclAllGather) X(ncclAlltoAll) X(ncclGather)             \
  X(ncclScatter) X(ncclSend) X(ncclRecv) X(ncclGroupStart) X(ncclGroupEnd) X(ncclGroupSimulateEnd)

#endif
