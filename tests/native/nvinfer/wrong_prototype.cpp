// A bbox parser missing its detectionParams parameter: the prototype check must stop the build.
#include "nvdsinfer_custom_impl.h"

extern "C" bool NvDsInferParseWrongPrototype(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,
                                             std::vector<NvDsInferParseObjectInfo> &objectList)
{
    objectList.clear();
    return true;
}
CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(NvDsInferParseWrongPrototype);
