/*
 * An instance-mask parser through dsflow's C ABI with the rules of TAO Mask R-CNN's
 * NvDsInferParseCustomMrcnnTLTV2 (as dsflow's built-in Python version applies them):
 * `generate_detections` rows (y1, x1, y2, x2, class, score) and `mask_fcn_logits/BiasAdd`
 * [instances, classes, mh, mw] per sample; instance i takes mask plane i * num_classes + class.
 * It counts first and writes only when everything fits (the NEED_MORE_SPACE protocol).
 */
#include <string.h>

#include <dsflow/infer.h>

static const DsflowTensor* find(const DsflowTensor* outputs, uint32_t num_outputs, const char* name)
{
    uint32_t i;
    for (i = 0; i < num_outputs; ++i)
        if (strcmp(outputs[i].name, name) == 0)
            return &outputs[i];
    return NULL;
}

static float clip(float value, float low, float high)
{
    float v = value < high ? value : high;
    return v > low ? v : low;
}

static int64_t per_sample(const DsflowTensor* tensor)
{
    int64_t n = 1;
    uint32_t k;
    for (k = 1; k < tensor->ndim; ++k)
        n *= tensor->dims[k];
    return n;
}

DSFLOW_INSTANCE_MASK_PARSER(DsflowMrcnnV2)
{
    const DsflowTensor* dets = find(outputs, num_outputs, "generate_detections");
    const DsflowTensor* mask_layer = find(outputs, num_outputs, "mask_fcn_logits/BiasAdd");
    int64_t rows, instances, mask_h, mask_w, planes, plane_size, pass, i;
    uint32_t sample, found = 0;
    float last_x = (float)network->width - 1.0f, last_y = (float)network->height - 1.0f;
    (void)cuda_stream;

    if (!dets || !mask_layer || mask_layer->ndim != 5 || dets->dtype != DSFLOW_FLOAT32 ||
        mask_layer->dtype != DSFLOW_FLOAT32 || params->num_classes < 1)
        return DSFLOW_ERROR;
    rows = per_sample(dets) / 6;
    instances = mask_layer->dims[1];
    mask_h = mask_layer->dims[3];
    mask_w = mask_layer->dims[4];
    plane_size = mask_h * mask_w;
    planes = per_sample(mask_layer) / plane_size;
    if (rows > instances)
        rows = instances;

    for (pass = 0; pass < 2; ++pass) {
        int write = pass == 1;
        found = 0;
        for (sample = 0; sample < batch; ++sample) {
            const float* table = (const float*)dets->data + sample * per_sample(dets);
            const float* masks = (const float*)mask_layer->data + sample * per_sample(mask_layer);
            for (i = 0; i < rows; ++i) {
                const float* r = table + i * 6;
                float y1 = r[0], x1 = r[1], y2 = r[2], x2 = r[3], score = r[5];
                int64_t class_id = (int64_t)r[4], plane = i * (int64_t)params->num_classes + class_id;
                float left = clip(x1, 0.0f, last_x), top = clip(y1, 0.0f, last_y);
                float width = clip(x2, 0.0f, last_x) - x1, height = clip(y2, 0.0f, last_y) - y1;
                if (!(score >= params->pre_cluster_threshold[0]) || !(width > 0.0f) || !(height > 0.0f) ||
                    class_id < 0 || plane >= planes)
                    continue;
                if (write) {
                    DsflowObject* object = &out->items[found];
                    object->sample = sample;
                    object->class_id = (int32_t)class_id;
                    object->left = left;
                    object->top = top;
                    object->width = width;
                    object->height = height;
                    object->confidence = score;
                    memcpy(out->masks + found * plane_size, masks + plane * plane_size,
                           (size_t)plane_size * sizeof(float));
                }
                ++found;
            }
        }
        out->count = found;
        out->mask_width = (uint32_t)mask_w;
        out->mask_height = (uint32_t)mask_h;
        if (!write && (found > out->capacity || (uint64_t)found * (uint64_t)plane_size > out->mask_capacity))
            return DSFLOW_NEED_MORE_SPACE;
    }
    return DSFLOW_OK;
}
