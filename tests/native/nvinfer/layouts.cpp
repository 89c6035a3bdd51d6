// The interface's layouts, checked from C++ with the standard library (libstdc++) in use.
#include <cstddef>
#include <string>

#include "nvdsinfer_custom_impl.h"

static_assert(sizeof(std::string) == 32, "C++11-ABI std::string");
static_assert(sizeof(std::vector<NvDsInferLayerInfo>) == 24, "std::vector");
static_assert(sizeof(NvDsInferParseDetectionParams) == 64, "NvDsInferParseDetectionParams");
static_assert(sizeof(NvDsInferContextInitParams) == 51400, "NvDsInferContextInitParams");
static_assert(offsetof(NvDsInferContextInitParams, netInputOrder) == 25624, "netInputOrder");
static_assert(offsetof(NvDsInferContextInitParams, customEngineCreateFuncName) == 49272, "customEngineCreateFuncName");
static_assert(offsetof(NvDsInferContextInitParams, maxGPUMemPer) == 51392, "maxGPUMemPer");
static_assert(std::is_same<decltype(&NvDsInferInitializeInputLayers),
                           bool (*)(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,
                                    unsigned int)>::value,
              "NvDsInferInitializeInputLayers");

// The reference member refers to the object's own pre-cluster thresholds, also in copies.
bool referenceIsOwn()
{
    NvDsInferParseDetectionParams params;
    params.perClassPreclusterThreshold = {0.25f};
    NvDsInferParseDetectionParams copy(params);
    NvDsInferParseDetectionParams assigned;
    assigned = params;
    return &params.perClassThreshold == &params.perClassPreclusterThreshold &&
           &copy.perClassThreshold == &copy.perClassPreclusterThreshold &&
           &assigned.perClassThreshold == &assigned.perClassPreclusterThreshold;
}
