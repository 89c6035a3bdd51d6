// Bbox parsers written the way DeepStream users write them (against nvdsinfer_custom_impl.h), for
// dsflow's tests of the nvinfer ABI. NvDsInferParseRows decodes DeepStream-Yolo's one-layer
// [N, 6] contract: rows (x1, y1, x2, y2, score, class) in network pixels.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "nvdsinfer_custom_impl.h"

static float clampTo(float value, float high)
{
    return std::max(std::min(value, high), 0.0f);
}

static bool decodeRows(std::vector<NvDsInferLayerInfo> const &outputLayersInfo, NvDsInferNetworkInfo const &networkInfo,
                       std::vector<float> const &thresholds, bool firstThresholdOnly,
                       std::vector<NvDsInferObjectDetectionInfo> &objectList)
{
    if (outputLayersInfo.empty() || outputLayersInfo[0].dataType != FLOAT)
        return false;
    const NvDsInferLayerInfo &layer = outputLayersInfo[0];
    const float *rows = static_cast<const float *>(layer.buffer);
    const unsigned int count = layer.inferDims.numElements / 6;
    const float netW = static_cast<float>(networkInfo.width);
    const float netH = static_cast<float>(networkInfo.height);

    std::vector<NvDsInferObjectDetectionInfo> objects;
    for (unsigned int i = 0; i < count; ++i)
    {
        const float *row = rows + 6 * i;
        const float score = row[4];
        const int classId = static_cast<int>(row[5]);
        if (classId < 0 || static_cast<std::size_t>(classId) >= thresholds.size())
            continue;
        if (score < thresholds[firstThresholdOnly ? 0 : classId])
            continue;
        const float x1 = clampTo(row[0], netW);
        const float y1 = clampTo(row[1], netH);
        const float x2 = clampTo(row[2], netW);
        const float y2 = clampTo(row[3], netH);
        NvDsInferParseObjectInfo object;
        object.classId = static_cast<unsigned int>(classId);
        object.left = x1;
        object.top = y1;
        object.width = clampTo(x2 - x1, netW);
        object.height = clampTo(y2 - y1, netH);
        object.detectionConfidence = score;
        if (object.width < 1 || object.height < 1)
            continue;
        objects.push_back(object);
    }
    objectList = objects;  // DeepStream-Yolo assigns a whole new vector
    return true;
}

extern "C" bool NvDsInferParseRows(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                   NvDsInferNetworkInfo const &networkInfo,
                                   NvDsInferParseDetectionParams const &detectionParams,
                                   std::vector<NvDsInferParseObjectInfo> &objectList)
{
    return decodeRows(outputLayersInfo, networkInfo, detectionParams.perClassPreclusterThreshold, false, objectList);
}
CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(NvDsInferParseRows);

/* Reads the threshold of class 0 through the reference member, as several TAO parsers do. */
extern "C" bool NvDsInferParseRowsFirstThreshold(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                                 NvDsInferNetworkInfo const &networkInfo,
                                                 NvDsInferParseDetectionParams const &detectionParams,
                                                 std::vector<NvDsInferParseObjectInfo> &objectList)
{
    const float threshold = detectionParams.perClassThreshold[0];
    std::vector<float> same(detectionParams.perClassThreshold.size(), threshold);
    return decodeRows(outputLayersInfo, networkInfo, same, true, objectList);
}
CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(NvDsInferParseRowsFirstThreshold);

/* One object per configured class telling what the parser received, then one for the network. */
extern "C" bool NvDsInferParseEchoParams(std::vector<NvDsInferLayerInfo> const &,
                                         NvDsInferNetworkInfo const &networkInfo,
                                         NvDsInferParseDetectionParams const &detectionParams,
                                         std::vector<NvDsInferParseObjectInfo> &objectList)
{
    const char *base = reinterpret_cast<const char *>(&detectionParams);
    const float referenceAt = static_cast<float>(reinterpret_cast<const char *>(&detectionParams.perClassThreshold) - base);
    const float postAt = static_cast<float>(reinterpret_cast<const char *>(&detectionParams.perClassPostclusterThreshold) - base);
    for (std::size_t c = 0; c < detectionParams.perClassPreclusterThreshold.size(); ++c)
    {
        NvDsInferParseObjectInfo object;
        object.classId = static_cast<unsigned int>(100 + c);
        object.left = detectionParams.perClassPreclusterThreshold[c];
        object.top = detectionParams.perClassPostclusterThreshold.at(c);
        object.width = static_cast<float>(detectionParams.numClassesConfigured);
        object.height = referenceAt;
        object.detectionConfidence = postAt;
        objectList.push_back(object);
    }
    NvDsInferParseObjectInfo network = {200, static_cast<float>(networkInfo.width), static_cast<float>(networkInfo.height),
                                        static_cast<float>(networkInfo.channels), 0.0f, 1.0f};
    objectList.push_back(network);
    return true;
}
CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(NvDsInferParseEchoParams);

/* Fails after putting an object in the list (the list is still released). */
extern "C" bool NvDsInferParseFails(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,
                                    NvDsInferParseDetectionParams const &,
                                    std::vector<NvDsInferParseObjectInfo> &objectList)
{
    objectList.push_back(NvDsInferParseObjectInfo{1, 2.0f, 3.0f, 4.0f, 5.0f, 0.5f});
    return false;
}
CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(NvDsInferParseFails);

/* Forgot extern "C" and the check macro: exported only under its C++-mangled name. */
bool NvDsInferParseForgotExternC(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,
                                 NvDsInferParseDetectionParams const &, std::vector<NvDsInferParseObjectInfo> &)
{
    return true;
}
