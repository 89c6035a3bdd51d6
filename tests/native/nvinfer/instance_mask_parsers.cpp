// Instance-mask parsers written the way DeepStream users write them (against nvdsinfer_custom_impl.h), for
// dsflow's tests of the nvinfer ABI. NvDsInferParseMaskRows follows the TAO Mask R-CNN (V2) contract:
// "generate_detections" rows (y1, x1, y2, x2, class, score) and "mask_fcn_logits/BiasAdd"
// [instances, classes, mask_h, mask_w]; masks are handed over in new float[] buffers.
#include <algorithm>
#include <cstring>

#include "nvdsinfer_custom_impl.h"

static const NvDsInferLayerInfo *findLayer(std::vector<NvDsInferLayerInfo> const &layers, const char *name)
{
    for (const NvDsInferLayerInfo &layer : layers)
        if (std::strcmp(layer.layerName, name) == 0)
            return &layer;
    return nullptr;
}

static float clip(float value, float high)
{
    return std::max(std::min(value, high), 0.0f);
}

extern "C" bool NvDsInferParseMaskRows(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                       NvDsInferNetworkInfo const &networkInfo,
                                       NvDsInferParseDetectionParams const &detectionParams,
                                       std::vector<NvDsInferInstanceMaskInfo> &objectList)
{
    const NvDsInferLayerInfo *detections = findLayer(outputLayersInfo, "generate_detections");
    const NvDsInferLayerInfo *masks = findLayer(outputLayersInfo, "mask_fcn_logits/BiasAdd");
    if (!detections || !masks || masks->inferDims.numDims != 4)
        return false;
    const unsigned int instances = masks->inferDims.d[0];
    const unsigned int maskH = masks->inferDims.d[2];
    const unsigned int maskW = masks->inferDims.d[3];
    const unsigned int planes = masks->inferDims.numElements / (maskH * maskW);
    const float lastX = static_cast<float>(networkInfo.width - 1);
    const float lastY = static_cast<float>(networkInfo.height - 1);
    const float *rows = static_cast<const float *>(detections->buffer);
    const float *maskData = static_cast<const float *>(masks->buffer);
    const unsigned int count = std::min(detections->inferDims.numElements / 6, instances);
    for (unsigned int i = 0; i < count; ++i)
    {
        const float *row = rows + 6 * i;
        const float y1 = row[0], x1 = row[1], y2 = row[2], x2 = row[3], score = row[5];
        const int classId = static_cast<int>(row[4]);
        const long plane = static_cast<long>(i) * detectionParams.numClassesConfigured + classId;
        if (score < detectionParams.perClassPreclusterThreshold[0] || classId < 0 || plane >= planes)
            continue;
        NvDsInferInstanceMaskInfo object;
        object.classId = static_cast<unsigned int>(classId);
        object.left = clip(x1, lastX);
        object.top = clip(y1, lastY);
        object.width = clip(x2, lastX) - x1;
        object.height = clip(y2, lastY) - y1;
        object.detectionConfidence = score;
        if (object.width <= 0 || object.height <= 0)
            continue;
        object.mask_width = maskW;
        object.mask_height = maskH;
        object.mask_size = sizeof(float) * maskW * maskH;
        object.mask = new float[maskW * maskH];
        std::memcpy(object.mask, maskData + plane * maskW * maskH, object.mask_size);
        objectList.push_back(object);
    }
    return true;
}
CHECK_CUSTOM_INSTANCE_MASK_PARSE_FUNC_PROTOTYPE(NvDsInferParseMaskRows);

static NvDsInferInstanceMaskInfo rampMask(unsigned int classId, unsigned int width, unsigned int height, float start)
{
    NvDsInferInstanceMaskInfo object = {classId, 1.0f, 2.0f, 3.0f, 4.0f, 0.5f, nullptr, width, height, 0};
    if (width != 0 && height != 0)
    {
        object.mask = new float[width * height];
        for (unsigned int k = 0; k < width * height; ++k)
            object.mask[k] = start + static_cast<float>(k);
        object.mask_size = static_cast<unsigned int>(sizeof(float)) * width * height;
    }
    return object;
}

/* Masks of different sizes and a NULL mask. */
extern "C" bool NvDsInferParseMixedMasks(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,
                                         NvDsInferParseDetectionParams const &,
                                         std::vector<NvDsInferInstanceMaskInfo> &objectList)
{
    objectList.push_back(rampMask(0, 3, 2, 0.0f));
    objectList.push_back(rampMask(1, 0, 0, 0.0f));
    objectList.push_back(rampMask(2, 1, 1, 10.0f));
    return true;
}
CHECK_CUSTOM_INSTANCE_MASK_PARSE_FUNC_PROTOTYPE(NvDsInferParseMixedMasks);

/* mask_size counted in floats instead of bytes. */
extern "C" bool NvDsInferParseMaskSizeInFloats(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,
                                               NvDsInferParseDetectionParams const &,
                                               std::vector<NvDsInferInstanceMaskInfo> &objectList)
{
    objectList.push_back(rampMask(0, 2, 2, 0.0f));
    objectList.push_back(rampMask(0, 2, 2, 0.0f));
    objectList.back().mask_size = 4;
    return true;
}
CHECK_CUSTOM_INSTANCE_MASK_PARSE_FUNC_PROTOTYPE(NvDsInferParseMaskSizeInFloats);
