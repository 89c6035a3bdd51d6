/*
 * Function infos that dsflow must refuse, written by hand instead of with the declaration
 * macros: another ABI version, another DsflowTensor size, an unknown kind, and an info whose
 * function is missing.
 */
#include <dsflow/infer.h>

#define INFO(name, version, kind, tensor_size, object_size)                                  \
    DSFLOW_EXTERN DSFLOW_EXPORT const DsflowFunctionInfo dsflow_info_##name;                   \
    const DsflowFunctionInfo dsflow_info_##name = {version, kind, tensor_size, object_size}
#define FUNCTION(name)                                                                       \
    DSFLOW_EXTERN DSFLOW_EXPORT int32_t name(void);                                          \
    int32_t name(void) { return DSFLOW_OK; }

INFO(FromTheFuture, 2, DSFLOW_KIND_BBOX_PARSER, sizeof(DsflowTensor), sizeof(DsflowObject));
FUNCTION(FromTheFuture)

INFO(SmallTensor, DSFLOW_ABI_VERSION, DSFLOW_KIND_BBOX_PARSER, 88, sizeof(DsflowObject));
FUNCTION(SmallTensor)

INFO(StrangeKind, DSFLOW_ABI_VERSION, 9, sizeof(DsflowTensor), sizeof(DsflowObject));
FUNCTION(StrangeKind)

INFO(OnlyInfo, DSFLOW_ABI_VERSION, DSFLOW_KIND_BBOX_PARSER, sizeof(DsflowTensor), sizeof(DsflowObject));
