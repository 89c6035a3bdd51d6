/*
 * nvdsinfer_custom_impl.h -- dsflow's compatibility declarations of DeepStream nvinfer's custom-library
 * interface (C++).
 *
 * These are dsflow's own declarations of the documented nvinfer ABI: the function types a
 * custom-lib-path library implements (bbox, instance-mask, classifier and segmentation parsers, engine
 * creators, input-layer initialization, model parsers), the parameters they receive and the prototype
 * check macros. They let sources written for Gst-nvinfer compile without the DeepStream SDK or
 * TensorRT; it is not NVIDIA's header. Layouts match DeepStream 6.3 on LP64 targets.
 *
 * Every entry point is found with dlsym by its plain name, so it must have C linkage: define it
 * `extern "C"`, or write its CHECK_CUSTOM_*_PROTOTYPE macro before the definition (the macro's extern "C"
 * declaration then gives the definition C linkage). The macro also fails the build when the function's
 * parameters differ from the interface.
 *
 * TensorRT types appear only as pointers and references and are forward-declared here; sources that
 * build engines include NvInfer.h themselves (before or after this header).
 */
#ifndef DSFLOW_COMPAT_NVDSINFER_CUSTOM_IMPL_H
#define DSFLOW_COMPAT_NVDSINFER_CUSTOM_IMPL_H

#ifndef __cplusplus
#error "nvdsinfer_custom_impl.h is C++ (std::vector, std::string); C sources can include nvdsinfer.h"
#endif

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "nvdsinfer.h"

namespace nvinfer1
{
class IBuilder;
class IBuilderConfig;
class ICudaEngine;
class INetworkDefinition;
enum class DataType : int32_t;
} // namespace nvinfer1

/** Detector parameters a bbox parser receives (num-detected-classes and the per-class thresholds). */
struct NvDsInferParseDetectionParams
{
    /** num-detected-classes */
    unsigned int numClassesConfigured;
    /** pre-cluster-threshold of each class (num-detected-classes values). */
    std::vector<float> perClassPreclusterThreshold;
    /** post-cluster-threshold of each class. */
    std::vector<float> perClassPostclusterThreshold;
    /** Older name of perClassPreclusterThreshold (a reference to it, stored as a pointer). */
    std::vector<float> &perClassThreshold = perClassPreclusterThreshold;

    NvDsInferParseDetectionParams() : numClassesConfigured(0) {}
    /* A copy refers to its own thresholds, not to those of the original. */
    NvDsInferParseDetectionParams(const NvDsInferParseDetectionParams &other)
        : numClassesConfigured(other.numClassesConfigured),
          perClassPreclusterThreshold(other.perClassPreclusterThreshold),
          perClassPostclusterThreshold(other.perClassPostclusterThreshold)
    {
    }
    NvDsInferParseDetectionParams &operator=(const NvDsInferParseDetectionParams &other)
    {
        numClassesConfigured = other.numClassesConfigured;
        perClassPreclusterThreshold = other.perClassPreclusterThreshold;
        perClassPostclusterThreshold = other.perClassPostclusterThreshold;
        return *this;
    }
};

/** NvDsInferContextInitParams as of DeepStream 6.3 (what engine creators and model parsers receive). */
#ifndef _PATH_MAX
#define _PATH_MAX 4096
#endif
#ifndef _MAX_CHANNELS
#define _MAX_CHANNELS 4
#endif
#ifndef _MAX_STR_LENGTH
#define _MAX_STR_LENGTH 1024
#endif

typedef struct _NvDsInferContextInitParams
{
    unsigned int uniqueID;
    NvDsInferNetworkMode networkMode;
    char protoFilePath[_PATH_MAX];
    char modelFilePath[_PATH_MAX];
    char uffFilePath[_PATH_MAX];
    char onnxFilePath[_PATH_MAX];
    char tltEncodedModelFilePath[_PATH_MAX];
    char int8CalibrationFilePath[_PATH_MAX];
    union
    {
        /** Deprecated; must stay zero (use inferInputDims). */
        NvDsInferDimsCHW inputDims;
        NvDsInferDimsCHW uffDimsCHW;
    };
    NvDsInferTensorOrder uffInputOrder;
    char uffInputBlobName[_MAX_STR_LENGTH];
    NvDsInferTensorOrder netInputOrder;
    char tltModelKey[_MAX_STR_LENGTH];
    char modelEngineFilePath[_PATH_MAX];
    unsigned int maxBatchSize;
    char labelsFilePath[_PATH_MAX];
    char meanImageFilePath[_PATH_MAX];
    float networkScaleFactor;
    NvDsInferFormat networkInputFormat;
    float offsets[_MAX_CHANNELS];
    unsigned int numOffsets;
    NvDsInferNetworkType networkType;
    /** Deprecated (cluster-mode). */
    int useDBScan;
    unsigned int numDetectedClasses;
    NvDsInferDetectionParams *perClassDetectionParams;
    float classifierThreshold;
    float segmentationThreshold;
    char **outputLayerNames;
    unsigned int numOutputLayers;
    char customLibPath[_PATH_MAX];
    char customBBoxParseFuncName[_MAX_STR_LENGTH];
    char customClassifierParseFuncName[_MAX_STR_LENGTH];
    int copyInputToHostBuffers;
    unsigned int gpuID;
    int useDLA;
    int dlaCore;
    unsigned int outputBufferPoolSize;
    char customNetworkConfigFilePath[_PATH_MAX];
    char customEngineCreateFuncName[_MAX_STR_LENGTH];
    int forceImplicitBatchDimension;
    /** MiB */
    unsigned int workspaceSize;
    NvDsInferDimsCHW inferInputDims;
    NvDsInferClusterMode clusterMode;
    char customBBoxInstanceMaskParseFuncName[_MAX_STR_LENGTH];
    char **outputIOFormats;
    unsigned int numOutputIOFormats;
    char **layerDevicePrecisions;
    unsigned int numLayerDevicePrecisions;
    NvDsInferTensorOrder segmentationOutputOrder;
    int inputFromPreprocessedTensor;
    int disableOutputHostCopy;
    int autoIncMem;
    double maxGPUMemPer;
} NvDsInferContextInitParams;

/* ---- function types -------------------------------------------------------------------------------- */

/** parse-bbox-func-name: append the objects of one sample to objectList; false on failure. */
typedef bool (*NvDsInferParseCustomFunc)(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                         NvDsInferNetworkInfo const &networkInfo,
                                         NvDsInferParseDetectionParams const &detectionParams,
                                         std::vector<NvDsInferObjectDetectionInfo> &objectList);

/** parse-bbox-instance-mask-func-name: as a bbox parser, with masks allocated by new float[]. */
typedef bool (*NvDsInferInstanceMaskParseCustomFunc)(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                                     NvDsInferNetworkInfo const &networkInfo,
                                                     NvDsInferParseDetectionParams const &detectionParams,
                                                     std::vector<NvDsInferInstanceMaskInfo> &objectList);

/** parse-classifier-func-name ("Classifer" is the interface's spelling): attributes and a description. */
typedef bool (*NvDsInferClassiferParseCustomFunc)(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                                  NvDsInferNetworkInfo const &networkInfo, float classifierThreshold,
                                                  std::vector<NvDsInferAttribute> &attrList,
                                                  std::string &descString);

/** Semantic segmentation: fill classificationMap (height x width, caller-allocated) and optionally point
    classProbabilityMap at the per-class probabilities. */
typedef bool (*NvDsInferSemSegmentationParseCustomFunc)(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                                        NvDsInferNetworkInfo const &networkInfo,
                                                        float segmentationThreshold, unsigned int numClasses,
                                                        int *classificationMap, float *&classProbabilityMap);

/** engine-create-func-name (TensorRT 8 and later): build an engine with the given builder and config. */
typedef bool (*NvDsInferEngineCreateCustomFunc)(nvinfer1::IBuilder *const builder,
                                                nvinfer1::IBuilderConfig *const builderConfig,
                                                const NvDsInferContextInitParams *const initParams,
                                                nvinfer1::DataType dataType, nvinfer1::ICudaEngine *&cudaEngine);

/** A custom model format: fills a TensorRT network (returned by NvDsInferCreateModelParser). */
class IModelParser
{
  public:
    IModelParser() = default;
    virtual ~IModelParser() = default;
    /** Add the model's layers to network. */
    virtual NvDsInferStatus parseModel(nvinfer1::INetworkDefinition &network) = 0;
    /** Whether the network is built with explicit (full) dimensions. */
    virtual bool hasFullDimsSupported() const = 0;
    /** Name used for the serialized engine file. */
    virtual const char *getModelName() const = 0;
};

extern "C" {

/** Fixed name: fill the input layers other than the image (binding 0) for maxBatchSize samples. */
bool NvDsInferInitializeInputLayers(std::vector<NvDsInferLayerInfo> const &inputLayersInfo,
                                    NvDsInferNetworkInfo const &networkInfo, unsigned int maxBatchSize);

/** Fixed name, older engine-creation entry point (used when no engine-create-func-name is set). */
bool NvDsInferCudaEngineGet(nvinfer1::IBuilder *builder, NvDsInferContextInitParams *initParams,
                            nvinfer1::DataType dataType, nvinfer1::ICudaEngine *&cudaEngine);

/** Fixed name: when exported, the model is built through the returned parser (deleted by the caller). */
IModelParser *NvDsInferCreateModelParser(const NvDsInferContextInitParams *initParams);

} /* extern "C" */

/* ---- prototype checks -----------------------------------------------------------------------------
 * Write `CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(MyParser);` before the definition of MyParser, or after it when
 * the definition itself is `extern "C"` (after a plain C++ definition it is a conflicting declaration).
 * Each macro declares the function extern "C" (so its symbol is the plain name) and checks that its type
 * is the interface's: different parameters fail to compile, naming the function. */

#define DSFLOW_CHECK_PROTOTYPE_(func, type)                                                                    \
    static_assert(std::is_same<decltype(&func), type>::value,                                                  \
                  #func " does not have the parameters and result of " #type)

#define CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(func)                                                                \
    extern "C" bool func(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,               \
                         NvDsInferParseDetectionParams const &, std::vector<NvDsInferObjectDetectionInfo> &); \
    DSFLOW_CHECK_PROTOTYPE_(func, NvDsInferParseCustomFunc)

#define CHECK_CUSTOM_INSTANCE_MASK_PARSE_FUNC_PROTOTYPE(func)                                                  \
    extern "C" bool func(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,               \
                         NvDsInferParseDetectionParams const &, std::vector<NvDsInferInstanceMaskInfo> &);    \
    DSFLOW_CHECK_PROTOTYPE_(func, NvDsInferInstanceMaskParseCustomFunc)

#define CHECK_CUSTOM_CLASSIFIER_PARSE_FUNC_PROTOTYPE(func)                                                     \
    extern "C" bool func(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &, float,        \
                         std::vector<NvDsInferAttribute> &, std::string &);                                    \
    DSFLOW_CHECK_PROTOTYPE_(func, NvDsInferClassiferParseCustomFunc)

#define CHECK_CUSTOM_SEM_SEGMENTATION_PARSE_FUNC_PROTOTYPE(func)                                               \
    extern "C" bool func(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &, float,        \
                         unsigned int, int *, float *&);                                                       \
    DSFLOW_CHECK_PROTOTYPE_(func, NvDsInferSemSegmentationParseCustomFunc)

#define CHECK_CUSTOM_ENGINE_CREATE_FUNC_PROTOTYPE(func)                                                        \
    extern "C" bool func(nvinfer1::IBuilder *const, nvinfer1::IBuilderConfig *const,                          \
                         const NvDsInferContextInitParams *const, nvinfer1::DataType, nvinfer1::ICudaEngine *&); \
    DSFLOW_CHECK_PROTOTYPE_(func, NvDsInferEngineCreateCustomFunc)

/* ---- layouts the interface is bound to (LP64) ------------------------------------------------------ */
#if defined(__LP64__) || defined(_LP64)
static_assert(sizeof(std::vector<float>) == 24, "nvdsinfer_custom_impl.h: std::vector is not three pointers");
static_assert(sizeof(NvDsInferParseDetectionParams) == 64, "NvDsInferParseDetectionParams size");
/* The reference member makes the struct non-standard-layout, so offsetof cannot check its members; they
   sit at 8 (perClassPreclusterThreshold), 32 (perClassPostclusterThreshold) and 56 (the reference). */
static_assert(sizeof(NvDsInferContextInitParams) == 51400, "NvDsInferContextInitParams size");
#define DSFLOW_INIT_PARAMS_AT_(member, offset)                                                                 \
    static_assert(offsetof(NvDsInferContextInitParams, member) == offset, "NvDsInferContextInitParams." #member)
DSFLOW_INIT_PARAMS_AT_(networkMode, 4);
DSFLOW_INIT_PARAMS_AT_(protoFilePath, 8);
DSFLOW_INIT_PARAMS_AT_(modelFilePath, 4104);
DSFLOW_INIT_PARAMS_AT_(uffFilePath, 8200);
DSFLOW_INIT_PARAMS_AT_(onnxFilePath, 12296);
DSFLOW_INIT_PARAMS_AT_(tltEncodedModelFilePath, 16392);
DSFLOW_INIT_PARAMS_AT_(int8CalibrationFilePath, 20488);
DSFLOW_INIT_PARAMS_AT_(inputDims, 24584);
DSFLOW_INIT_PARAMS_AT_(uffInputOrder, 24596);
DSFLOW_INIT_PARAMS_AT_(uffInputBlobName, 24600);
DSFLOW_INIT_PARAMS_AT_(netInputOrder, 25624);
DSFLOW_INIT_PARAMS_AT_(tltModelKey, 25628);
DSFLOW_INIT_PARAMS_AT_(modelEngineFilePath, 26652);
DSFLOW_INIT_PARAMS_AT_(maxBatchSize, 30748);
DSFLOW_INIT_PARAMS_AT_(labelsFilePath, 30752);
DSFLOW_INIT_PARAMS_AT_(meanImageFilePath, 34848);
DSFLOW_INIT_PARAMS_AT_(networkScaleFactor, 38944);
DSFLOW_INIT_PARAMS_AT_(networkInputFormat, 38948);
DSFLOW_INIT_PARAMS_AT_(offsets, 38952);
DSFLOW_INIT_PARAMS_AT_(numOffsets, 38968);
DSFLOW_INIT_PARAMS_AT_(networkType, 38972);
DSFLOW_INIT_PARAMS_AT_(useDBScan, 38976);
DSFLOW_INIT_PARAMS_AT_(numDetectedClasses, 38980);
DSFLOW_INIT_PARAMS_AT_(perClassDetectionParams, 38984);
DSFLOW_INIT_PARAMS_AT_(classifierThreshold, 38992);
DSFLOW_INIT_PARAMS_AT_(segmentationThreshold, 38996);
DSFLOW_INIT_PARAMS_AT_(outputLayerNames, 39000);
DSFLOW_INIT_PARAMS_AT_(numOutputLayers, 39008);
DSFLOW_INIT_PARAMS_AT_(customLibPath, 39012);
DSFLOW_INIT_PARAMS_AT_(customBBoxParseFuncName, 43108);
DSFLOW_INIT_PARAMS_AT_(customClassifierParseFuncName, 44132);
DSFLOW_INIT_PARAMS_AT_(copyInputToHostBuffers, 45156);
DSFLOW_INIT_PARAMS_AT_(gpuID, 45160);
DSFLOW_INIT_PARAMS_AT_(useDLA, 45164);
DSFLOW_INIT_PARAMS_AT_(dlaCore, 45168);
DSFLOW_INIT_PARAMS_AT_(outputBufferPoolSize, 45172);
DSFLOW_INIT_PARAMS_AT_(customNetworkConfigFilePath, 45176);
DSFLOW_INIT_PARAMS_AT_(customEngineCreateFuncName, 49272);
DSFLOW_INIT_PARAMS_AT_(forceImplicitBatchDimension, 50296);
DSFLOW_INIT_PARAMS_AT_(workspaceSize, 50300);
DSFLOW_INIT_PARAMS_AT_(inferInputDims, 50304);
DSFLOW_INIT_PARAMS_AT_(clusterMode, 50316);
DSFLOW_INIT_PARAMS_AT_(customBBoxInstanceMaskParseFuncName, 50320);
DSFLOW_INIT_PARAMS_AT_(outputIOFormats, 51344);
DSFLOW_INIT_PARAMS_AT_(numOutputIOFormats, 51352);
DSFLOW_INIT_PARAMS_AT_(layerDevicePrecisions, 51360);
DSFLOW_INIT_PARAMS_AT_(numLayerDevicePrecisions, 51368);
DSFLOW_INIT_PARAMS_AT_(segmentationOutputOrder, 51372);
DSFLOW_INIT_PARAMS_AT_(inputFromPreprocessedTensor, 51376);
DSFLOW_INIT_PARAMS_AT_(disableOutputHostCopy, 51380);
DSFLOW_INIT_PARAMS_AT_(autoIncMem, 51384);
DSFLOW_INIT_PARAMS_AT_(maxGPUMemPer, 51392);
#undef DSFLOW_INIT_PARAMS_AT_
#endif

#endif /* DSFLOW_COMPAT_NVDSINFER_CUSTOM_IMPL_H */
