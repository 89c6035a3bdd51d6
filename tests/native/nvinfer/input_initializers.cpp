// NvDsInferInitializeInputLayers written the way DeepStream users write it, for dsflow's tests of the
// nvinfer ABI. As in the Faster R-CNN sample, the definition has no extern "C" of its own: it inherits C
// linkage from the header's declaration.
#include <cstdint>
#include <cstring>

#include "nvdsinfer_custom_impl.h"

/* "im_info" (FLOAT, 3 values per sample) gets {netH, netW, 1}; any INT32 input gets
   sample * 1000 + element index; other inputs are an error. */
bool NvDsInferInitializeInputLayers(std::vector<NvDsInferLayerInfo> const &inputLayersInfo,
                                    NvDsInferNetworkInfo const &networkInfo, unsigned int maxBatchSize)
{
    for (const NvDsInferLayerInfo &layer : inputLayersInfo)
    {
        const unsigned int n = layer.inferDims.numElements;
        if (!layer.isInput)
            return false;
        if (std::strcmp(layer.layerName, "im_info") == 0 && layer.dataType == FLOAT && n == 3)
        {
            float *info = static_cast<float *>(layer.buffer);
            for (unsigned int b = 0; b < maxBatchSize; ++b)
            {
                info[b * 3 + 0] = static_cast<float>(networkInfo.height);
                info[b * 3 + 1] = static_cast<float>(networkInfo.width);
                info[b * 3 + 2] = 1.0f;
            }
        }
        else if (layer.dataType == INT32)
        {
            std::int32_t *values = static_cast<std::int32_t *>(layer.buffer);
            for (unsigned int b = 0; b < maxBatchSize; ++b)
                for (unsigned int k = 0; k < n; ++k)
                    values[b * n + k] = static_cast<std::int32_t>(b * 1000 + k);
        }
        else
        {
            return false;
        }
    }
    return true;
}

extern "C" bool NvDsInferInitializeRefuses(std::vector<NvDsInferLayerInfo> const &, NvDsInferNetworkInfo const &,
                                           unsigned int)
{
    return false;
}
