/*
 * A classifier parser through dsflow's C ABI: for every output layer and every sample, the most
 * probable class among those with p > threshold (and p > 0), first of equal maxima, as nvinfer's
 * built-in softmax parser. Layer l of a sample holds dims[1] probabilities. The label is
 * "<layer name>:<class>". Attributes are written layer by layer (dsflow sorts them by sample).
 */
#include <stdio.h>

#include <dsflow/infer.h>

DSFLOW_CLASSIFIER_PARSER(DsflowBestClass)
{
    uint32_t layer, sample, found = 0;
    (void)network, (void)cuda_stream;
    for (layer = 0; layer < num_outputs; ++layer) {
        const DsflowTensor* tensor = &outputs[layer];
        int64_t classes, per_sample = 1;
        uint32_t k;
        if (tensor->dtype != DSFLOW_FLOAT32 || tensor->ndim < 2 || tensor->dims[0] != (int64_t)batch)
            return DSFLOW_ERROR;
        for (k = 1; k < tensor->ndim; ++k)
            per_sample *= tensor->dims[k];
        classes = tensor->dims[1];
        for (sample = 0; sample < batch; ++sample) {
            const float* probs = (const float*)tensor->data + sample * per_sample;
            float best = 0.0f;
            int64_t best_class = -1, c;
            for (c = 0; c < classes; ++c) {
                if (probs[c] > threshold && probs[c] > best) {
                    best = probs[c];
                    best_class = c;
                }
            }
            if (best_class < 0)
                continue;
            if (found < out->capacity) {
                DsflowAttribute* attribute = &out->items[found];
                attribute->sample = sample;
                attribute->index = (uint32_t)tensor->index;
                attribute->class_id = (uint32_t)best_class;
                attribute->confidence = best;
                snprintf(attribute->label, sizeof attribute->label, "%s:%d", tensor->name, (int)best_class);
            }
            ++found;
        }
    }
    out->count = found;
    return found > out->capacity ? DSFLOW_NEED_MORE_SPACE : DSFLOW_OK;
}
