/* nvdsinfer.h from C: the plain structs, enums and macros, with their layouts. */
#include <stddef.h>

#include "nvdsinfer.h"

_Static_assert(sizeof(NvDsInferDims) == 40, "NvDsInferDims");
_Static_assert(sizeof(NvDsInferLayerInfo) == 72, "NvDsInferLayerInfo");
_Static_assert(offsetof(NvDsInferLayerInfo, inferDims) == 4, "inferDims");
_Static_assert(offsetof(NvDsInferLayerInfo, dims) == 4, "dims");
_Static_assert(offsetof(NvDsInferLayerInfo, bindingIndex) == 44, "bindingIndex");
_Static_assert(offsetof(NvDsInferLayerInfo, layerName) == 48, "layerName");
_Static_assert(offsetof(NvDsInferLayerInfo, buffer) == 56, "buffer");
_Static_assert(offsetof(NvDsInferLayerInfo, isInput) == 64, "isInput");
_Static_assert(sizeof(NvDsInferNetworkInfo) == 12, "NvDsInferNetworkInfo");
_Static_assert(sizeof(NvDsInferObjectDetectionInfo) == 24, "NvDsInferObjectDetectionInfo");
_Static_assert(sizeof(NvDsInferInstanceMaskInfo) == 48, "NvDsInferInstanceMaskInfo");
_Static_assert(offsetof(NvDsInferInstanceMaskInfo, mask_size) == 40, "mask_size");
_Static_assert(sizeof(NvDsInferAttribute) == 24, "NvDsInferAttribute");
_Static_assert(offsetof(NvDsInferAttribute, attributeLabel) == 16, "attributeLabel");
_Static_assert(sizeof(NvDsInferDetectionParams) == 32, "NvDsInferDetectionParams");
_Static_assert(INT64 == 4 && UINT8 == 5, "data types");
_Static_assert(NVDSINFER_UNKNOWN_ERROR == 10 && NVDSINFER_TRTIS_ERROR == NVDSINFER_TRITON_ERROR, "status");
_Static_assert(NvDsInferNetworkType_Other == 100 && NVDSINFER_CLUSTER_NONE == 4, "enums");
_Static_assert(NvDsInferUffOrder_kNHWC == NvDsInferTensorOrder_kNHWC, "order aliases");

unsigned int chw_sum(const NvDsInferLayerInfo *layer)
{
    NvDsInferDimsCHW chw;
    NvDsInferDimsCHW hwc;
    NvDsInferParseObjectInfo object = {0, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f};
    getDimsCHWFromDims(chw, layer->inferDims);
    getDimsHWCFromDims(hwc, layer->dims);
    return chw.c + chw.h + chw.w + hwc.c + object.classId;
}
