/*
 * nvdsinfer.h -- dsflow's compatibility declarations of DeepStream nvinfer's plain-C types.
 *
 * These are dsflow's own declarations of the documented nvinfer ABI (type and member names, member
 * order, enumerator values), written so that custom-library sources written for Gst-nvinfer compile
 * without the DeepStream SDK and produce libraries that dsflow (and nvinfer) can call. It is not
 * NVIDIA's header. Layouts match DeepStream 6.3 on LP64 targets (x86_64, aarch64); the data-type
 * enumerators INT64 and UINT8 are those of DeepStream 9.0.
 *
 * Usable from C (C11, for the anonymous union of NvDsInferLayerInfo) and C++.
 */
#ifndef DSFLOW_COMPAT_NVDSINFER_H
#define DSFLOW_COMPAT_NVDSINFER_H

#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
#else
#include <stddef.h>
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** The most dimensions a layer can have. */
#define NVDSINFER_MAX_DIMS 8

/** A layer's shape for one sample (the batch dimension is never included). */
typedef struct
{
    /** Number of dimensions in use. */
    unsigned int numDims;
    /** Sizes, outermost first; entries past numDims are unused. */
    unsigned int d[NVDSINFER_MAX_DIMS];
    /** Product of the sizes: elements of one sample. */
    unsigned int numElements;
} NvDsInferDims;

/** A channels / height / width triple. */
typedef struct
{
    unsigned int c;
    unsigned int h;
    unsigned int w;
} NvDsInferDimsCHW;

/** Element type of a layer's buffer. */
typedef enum
{
    FLOAT = 0,
    HALF = 1,
    INT8 = 2,
    INT32 = 3,
    INT64 = 4,
    UINT8 = 5
} NvDsInferDataType;

/** One input or output layer as a custom function sees it: one sample's slice of the buffer. */
typedef struct
{
    NvDsInferDataType dataType;
    union
    {
        NvDsInferDims inferDims;
        /** Older name of inferDims, kept for sources that still use it. */
        NvDsInferDims dims;
    };
    /** The layer's binding index in the engine. */
    int bindingIndex;
    const char *layerName;
    /** The sample's data (host memory, also device-addressable when pinned). */
    void *buffer;
    /** Non-zero for input layers. */
    int isInput;
} NvDsInferLayerInfo;

/** Size of the network input. */
typedef struct
{
    unsigned int width;
    unsigned int height;
    unsigned int channels;
} NvDsInferNetworkInfo;

/** Reads dims.d[0..2] as channels, height, width into an NvDsInferDimsCHW. */
#define getDimsCHWFromDims(chw, dims) \
    do                                \
    {                                 \
        (chw).c = (dims).d[0];        \
        (chw).h = (dims).d[1];        \
        (chw).w = (dims).d[2];        \
    } while (0)

/** Reads dims.d[0..2] as height, width, channels into an NvDsInferDimsCHW. */
#define getDimsHWCFromDims(hwc, dims) \
    do                                \
    {                                 \
        (hwc).h = (dims).d[0];        \
        (hwc).w = (dims).d[1];        \
        (hwc).c = (dims).d[2];        \
    } while (0)

/** One detected object, in network-input pixels. */
typedef struct
{
    unsigned int classId;
    float left;
    float top;
    float width;
    float height;
    /** Nominally 0...1. */
    float detectionConfidence;
} NvDsInferObjectDetectionInfo;

/** The name bbox parsers commonly use for NvDsInferObjectDetectionInfo. */
typedef NvDsInferObjectDetectionInfo NvDsInferParseObjectInfo;

/** A detected object with its instance mask. */
typedef struct
{
    unsigned int classId;
    float left;
    float top;
    float width;
    float height;
    float detectionConfidence;
    /** mask_height x mask_width floats over the object's box, allocated with new float[]; the caller
        releases it with delete[]. */
    float *mask;
    unsigned int mask_width;
    unsigned int mask_height;
    /** Size of mask in bytes. */
    unsigned int mask_size;
} NvDsInferInstanceMaskInfo;

/** One classifier result. */
typedef struct
{
    /** Index of the attribute (the output layer it came from). */
    unsigned int attributeIndex;
    /** Index of the class within the attribute. */
    unsigned int attributeValue;
    float attributeConfidence;
    /** Heap string (strdup / malloc) the caller releases with free(); may be NULL. */
    char *attributeLabel;
} NvDsInferAttribute;

/** Status codes of the nvinfer interfaces. */
typedef enum
{
    NVDSINFER_SUCCESS = 0,
    NVDSINFER_CONFIG_FAILED = 1,
    NVDSINFER_CUSTOM_LIB_FAILED = 2,
    NVDSINFER_INVALID_PARAMS = 3,
    NVDSINFER_OUTPUT_PARSING_FAILED = 4,
    NVDSINFER_CUDA_ERROR = 5,
    NVDSINFER_TENSORRT_ERROR = 6,
    NVDSINFER_RESOURCE_ERROR = 7,
    NVDSINFER_TRITON_ERROR = 8,
    NVDSINFER_TRTIS_ERROR = 8,
    NVDSINFER_MEM_ERROR = 9,
    NVDSINFER_UNKNOWN_ERROR = 10
} NvDsInferStatus;

typedef enum
{
    NVDSINFER_LOG_ERROR = 0,
    NVDSINFER_LOG_WARNING = 1,
    NVDSINFER_LOG_INFO = 2,
    NVDSINFER_LOG_DEBUG = 3
} NvDsInferLogLevel;

/** network-mode */
typedef enum
{
    NvDsInferNetworkMode_FP32 = 0,
    NvDsInferNetworkMode_INT8 = 1,
    NvDsInferNetworkMode_FP16 = 2
} NvDsInferNetworkMode;

/** network-type */
typedef enum
{
    NvDsInferNetworkType_Detector = 0,
    NvDsInferNetworkType_Classifier = 1,
    NvDsInferNetworkType_Segmentation = 2,
    NvDsInferNetworkType_InstanceSegmentation = 3,
    NvDsInferNetworkType_Other = 100
} NvDsInferNetworkType;

/** model-color-format and friends */
typedef enum
{
    NvDsInferFormat_RGB = 0,
    NvDsInferFormat_BGR = 1,
    NvDsInferFormat_GRAY = 2,
    NvDsInferFormat_RGBA = 3,
    NvDsInferFormat_BGRx = 4,
    NvDsInferFormat_Tensor = 5,
    NvDsInferFormat_Unknown = 0xFFFFFFFF
} NvDsInferFormat;

/** Tensor layouts (network-input-order, segmentation-output-order). */
typedef enum
{
    NvDsInferTensorOrder_kNCHW = 0,
    NvDsInferTensorOrder_kNHWC = 1,
    NvDsInferTensorOrder_kNC = 2,
    /* Older names of the same values. */
    NvDsInferUffOrder_kNCHW = 0,
    NvDsInferUffOrder_kNHWC = 1,
    NvDsInferUffOrder_kNC = 2
} NvDsInferTensorOrder;

/** Older name of NvDsInferTensorOrder. */
typedef NvDsInferTensorOrder NvDsInferUffOrder;

/** cluster-mode */
typedef enum
{
    NVDSINFER_CLUSTER_GROUP_RECTANGLES = 0,
    NVDSINFER_CLUSTER_DBSCAN = 1,
    NVDSINFER_CLUSTER_NMS = 2,
    NVDSINFER_CLUSTER_DBSCAN_NMS_HYBRID = 3,
    NVDSINFER_CLUSTER_NONE = 4
} NvDsInferClusterMode;

/** Per-class detection parameters ([class-attrs-*] groups). */
typedef struct
{
    union
    {
        /** Older name of preClusterThreshold. */
        float threshold;
        float preClusterThreshold;
    };
    float postClusterThreshold;
    float eps;
    int minBoxes;
    int groupThreshold;
    float minScore;
    float nmsIOUThreshold;
    int topK;
} NvDsInferDetectionParams;

/** DBSCAN clustering parameters. */
typedef struct
{
    float eps;
    uint32_t minBoxes;
    int enableATHRFilter;
    float thresholdATHR;
    float minScore;
} NvDsInferDBScanClusteringParams;

#ifdef __cplusplus
} /* extern "C" */

/** A layer's dims with the batch size (C++ only). */
struct NvDsInferBatchDims
{
    int batchSize;
    NvDsInferDims dims;
};

/** A layer with its optimisation-profile dims: minimum, optimum, maximum (C++ only). */
struct NvDsInferBatchDimsLayerInfo : NvDsInferLayerInfo
{
    NvDsInferBatchDims profileDims[3];
};
#endif

/* The layouts custom libraries are bound to (LP64). */
#if defined(__LP64__) || defined(_LP64)
#ifdef __cplusplus
#define DSFLOW_NVDSINFER_ASSERT(cond, what) static_assert(cond, "nvdsinfer.h layout: " what)
#else
#define DSFLOW_NVDSINFER_ASSERT(cond, what) _Static_assert(cond, "nvdsinfer.h layout: " what)
#endif
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferDims) == 40, "NvDsInferDims");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferDims, numElements) == 36, "NvDsInferDims.numElements");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferDimsCHW) == 12, "NvDsInferDimsCHW");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferDataType) == 4, "NvDsInferDataType");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferLayerInfo) == 72, "NvDsInferLayerInfo");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferLayerInfo, inferDims) == 4, "NvDsInferLayerInfo.inferDims");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferLayerInfo, bindingIndex) == 44, "NvDsInferLayerInfo.bindingIndex");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferLayerInfo, layerName) == 48, "NvDsInferLayerInfo.layerName");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferLayerInfo, buffer) == 56, "NvDsInferLayerInfo.buffer");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferLayerInfo, isInput) == 64, "NvDsInferLayerInfo.isInput");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferNetworkInfo) == 12, "NvDsInferNetworkInfo");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferObjectDetectionInfo) == 24, "NvDsInferObjectDetectionInfo");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferObjectDetectionInfo, detectionConfidence) == 20,
                        "NvDsInferObjectDetectionInfo.detectionConfidence");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferInstanceMaskInfo) == 48, "NvDsInferInstanceMaskInfo");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferInstanceMaskInfo, mask) == 24, "NvDsInferInstanceMaskInfo.mask");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferInstanceMaskInfo, mask_width) == 32, "NvDsInferInstanceMaskInfo.mask_width");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferInstanceMaskInfo, mask_height) == 36,
                        "NvDsInferInstanceMaskInfo.mask_height");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferInstanceMaskInfo, mask_size) == 40, "NvDsInferInstanceMaskInfo.mask_size");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferAttribute) == 24, "NvDsInferAttribute");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferAttribute, attributeLabel) == 16, "NvDsInferAttribute.attributeLabel");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferStatus) == 4, "NvDsInferStatus");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferFormat) == 4, "NvDsInferFormat");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferDetectionParams) == 32, "NvDsInferDetectionParams");
DSFLOW_NVDSINFER_ASSERT(offsetof(NvDsInferDetectionParams, topK) == 28, "NvDsInferDetectionParams.topK");
DSFLOW_NVDSINFER_ASSERT(sizeof(NvDsInferDBScanClusteringParams) == 20, "NvDsInferDBScanClusteringParams");
#undef DSFLOW_NVDSINFER_ASSERT
#endif

#endif /* DSFLOW_COMPAT_NVDSINFER_H */
