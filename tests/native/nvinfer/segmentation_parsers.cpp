// Semantic-segmentation parsers written against nvdsinfer_custom_impl.h for dsflow's tests of the nvinfer
// ABI: per pixel the class with the highest score above the threshold (else -1).
#include <vector>

#include "nvdsinfer_custom_impl.h"

static void argmax(const float *scores, unsigned int classes, unsigned int height, unsigned int width, bool hwc,
                   float threshold, int *classificationMap)
{
    for (unsigned int y = 0; y < height; ++y)
        for (unsigned int x = 0; x < width; ++x)
        {
            float best = -1.0f;
            int bestClass = -1;
            for (unsigned int c = 0; c < classes; ++c)
            {
                const float p = hwc ? scores[(y * width + x) * classes + c] : scores[(c * height + y) * width + x];
                if (p > threshold && p > best)
                {
                    best = p;
                    bestClass = static_cast<int>(c);
                }
            }
            classificationMap[y * width + x] = bestClass;
        }
}

/* Layer 0 is [C, H, W]; the probabilities are the layer itself (no copy). */
extern "C" bool NvDsInferParseSegmentationCHW(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                              NvDsInferNetworkInfo const &, float segmentationThreshold,
                                              unsigned int numClasses, int *classificationMap,
                                              float *&classProbabilityMap)
{
    const NvDsInferLayerInfo &layer = outputLayersInfo.at(0);
    if (layer.dataType != FLOAT || layer.inferDims.numDims != 3 || layer.inferDims.d[0] != numClasses)
        return false;
    float *scores = static_cast<float *>(layer.buffer);
    argmax(scores, numClasses, layer.inferDims.d[1], layer.inferDims.d[2], false, segmentationThreshold,
           classificationMap);
    classProbabilityMap = scores;
    return true;
}
CHECK_CUSTOM_SEM_SEGMENTATION_PARSE_FUNC_PROTOTYPE(NvDsInferParseSegmentationCHW);

/* Layer 0 is [H, W, C]; the probabilities are a doubled copy the library keeps. */
extern "C" bool NvDsInferParseSegmentationHWC(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                              NvDsInferNetworkInfo const &, float segmentationThreshold,
                                              unsigned int numClasses, int *classificationMap,
                                              float *&classProbabilityMap)
{
    static std::vector<float> kept;
    const NvDsInferLayerInfo &layer = outputLayersInfo.at(0);
    if (layer.dataType != FLOAT || layer.inferDims.numDims != 3 || layer.inferDims.d[2] != numClasses)
        return false;
    const float *scores = static_cast<const float *>(layer.buffer);
    argmax(scores, numClasses, layer.inferDims.d[0], layer.inferDims.d[1], true, segmentationThreshold,
           classificationMap);
    kept.assign(scores, scores + layer.inferDims.numElements);
    for (float &value : kept)
        value *= 2.0f;
    classProbabilityMap = kept.data();
    return true;
}
CHECK_CUSTOM_SEM_SEGMENTATION_PARSE_FUNC_PROTOTYPE(NvDsInferParseSegmentationHWC);
