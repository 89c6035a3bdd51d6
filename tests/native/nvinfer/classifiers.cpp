// Classifier parsers written the way DeepStream users write them (against nvdsinfer_custom_impl.h), for
// dsflow's tests of the nvinfer ABI: one attribute per output layer (the most probable class above the
// threshold), labels from a table (strdup), and the labels joined into descString.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "nvdsinfer_custom_impl.h"

static const char *const kShortLabels[2][3] = {{"red", "green", "blue"}, {"car", "bus", "van"}};
static const char *const kLongLabels[2][3] = {
    {"a-vehicle-painted-red", "a-vehicle-painted-green", "a-vehicle-painted-blue"},
    {"a-passenger-car", "a-city-bus", "a-delivery-van"}};

static bool parseSoftmax(std::vector<NvDsInferLayerInfo> const &outputLayersInfo, float classifierThreshold,
                         const char *const (*labels)[3], std::vector<NvDsInferAttribute> &attrList,
                         std::string &descString)
{
    for (unsigned int l = 0; l < outputLayersInfo.size(); ++l)
    {
        const NvDsInferLayerInfo &layer = outputLayersInfo[l];
        if (layer.dataType != FLOAT)
            return false;
        const unsigned int classes = layer.inferDims.numDims ? layer.inferDims.d[0] : 1;
        const float *probabilities = static_cast<const float *>(layer.buffer);
        float best = 0.0f;
        int bestClass = -1;
        for (unsigned int c = 0; c < classes; ++c)
        {
            if (probabilities[c] > classifierThreshold && probabilities[c] > best)
            {
                best = probabilities[c];
                bestClass = static_cast<int>(c);
            }
        }
        if (bestClass < 0)
            continue;
        NvDsInferAttribute attribute;
        attribute.attributeIndex = l;
        attribute.attributeValue = static_cast<unsigned int>(bestClass);
        attribute.attributeConfidence = best;
        attribute.attributeLabel = nullptr;
        if (l < 2 && bestClass < 3)
        {
            attribute.attributeLabel = strdup(labels[l][bestClass]);
            descString.append(labels[l][bestClass]).append(" ");
        }
        attrList.push_back(attribute);
    }
    return true;
}

extern "C" bool NvDsInferClassifierShortLabels(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                               NvDsInferNetworkInfo const &, float classifierThreshold,
                                               std::vector<NvDsInferAttribute> &attrList, std::string &descString)
{
    return parseSoftmax(outputLayersInfo, classifierThreshold, kShortLabels, attrList, descString);
}
CHECK_CUSTOM_CLASSIFIER_PARSE_FUNC_PROTOTYPE(NvDsInferClassifierShortLabels);

extern "C" bool NvDsInferClassifierLongLabels(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                              NvDsInferNetworkInfo const &, float classifierThreshold,
                                              std::vector<NvDsInferAttribute> &attrList, std::string &descString)
{
    return parseSoftmax(outputLayersInfo, classifierThreshold, kLongLabels, attrList, descString);
}
CHECK_CUSTOM_CLASSIFIER_PARSE_FUNC_PROTOTYPE(NvDsInferClassifierLongLabels);

/* Fails after producing a labelled attribute and a long description (both are still released). */
extern "C" bool NvDsInferClassifierFails(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                         NvDsInferNetworkInfo const &, float,
                                         std::vector<NvDsInferAttribute> &attrList, std::string &descString)
{
    parseSoftmax(outputLayersInfo, -1.0f, kLongLabels, attrList, descString);
    return false;
}
CHECK_CUSTOM_CLASSIFIER_PARSE_FUNC_PROTOTYPE(NvDsInferClassifierFails);

/* Describes every layer it receives in descString (and attaches no attribute). */
extern "C" bool NvDsInferClassifierEchoLayers(std::vector<NvDsInferLayerInfo> const &outputLayersInfo,
                                              NvDsInferNetworkInfo const &networkInfo, float classifierThreshold,
                                              std::vector<NvDsInferAttribute> &, std::string &descString)
{
    char text[256];
    for (const NvDsInferLayerInfo &layer : outputLayersInfo)
    {
        std::string dims;
        for (unsigned int i = 0; i < layer.inferDims.numDims; ++i)
            dims += (i ? "x" : "") + std::to_string(layer.inferDims.d[i]);
        long long first = 0;
        switch (layer.dataType)
        {
        case FLOAT: first = static_cast<long long>(*static_cast<const float *>(layer.buffer)); break;
        case HALF: first = *static_cast<const std::uint16_t *>(layer.buffer); break;
        case INT8: first = *static_cast<const std::int8_t *>(layer.buffer); break;
        case INT32: first = *static_cast<const std::int32_t *>(layer.buffer); break;
        case INT64: first = *static_cast<const std::int64_t *>(layer.buffer); break;
        case UINT8: first = *static_cast<const std::uint8_t *>(layer.buffer); break;
        }
        std::snprintf(text, sizeof text, "%s type=%d dims=%s n=%u binding=%d input=%d first=%lld\n", layer.layerName,
                      static_cast<int>(layer.dataType), dims.c_str(), layer.inferDims.numElements, layer.bindingIndex,
                      layer.isInput, first);
        descString += text;
    }
    std::snprintf(text, sizeof text, "net=%ux%ux%u threshold=%g", networkInfo.width, networkInfo.height,
                  networkInfo.channels, static_cast<double>(classifierThreshold));
    descString += text;
    return true;
}
CHECK_CUSTOM_CLASSIFIER_PARSE_FUNC_PROTOTYPE(NvDsInferClassifierEchoLayers);
