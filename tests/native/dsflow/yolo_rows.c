/*
 * DeepStream-Yolo's output contract, parsed for the whole batch through dsflow's C ABI: output 0
 * holds rows (x1, y1, x2, y2, score, class) per sample. Same rules as dsflow's built-in
 * NvDsInferParseYolo (known class, score >= pre-cluster threshold, corners clamped to the network
 * size, boxes under one pixel dropped). Compiled as C99 and as C++ by tests/test_dsflow_abi.py.
 */
#include <dsflow/infer.h>

/* Calls of DsflowYoloRows since the library was loaded: the test sees the second, larger call. */
DSFLOW_EXPORT uint32_t dsflow_test_calls = 0;

static float clip(float value, float low, float high)
{
    float v = value < high ? value : high;
    return v > low ? v : low;
}

static int32_t parse_rows(const DsflowTensor* outputs, uint32_t num_outputs, uint32_t batch,
                          const DsflowNetworkInfo* network, const DsflowDetectionParams* params,
                          DsflowObjects* out, int reverse)
{
    const DsflowTensor* rows;
    const float* data;
    int64_t per_sample = 1, count;
    uint32_t k, found = 0, s;
    float net_w = (float)network->width, net_h = (float)network->height;

    if (num_outputs < 1 || outputs[0].dtype != DSFLOW_FLOAT32 || outputs[0].ndim < 2 ||
        outputs[0].dims[0] != (int64_t)batch)
        return DSFLOW_ERROR;
    rows = &outputs[0];
    for (k = 1; k < rows->ndim; ++k)
        per_sample *= rows->dims[k];
    if (per_sample % 6 != 0)
        return DSFLOW_ERROR;
    count = per_sample / 6;
    data = (const float*)rows->data;
    for (s = 0; s < batch; ++s) {
        uint32_t sample = reverse ? batch - 1 - s : s;
        int64_t i;
        for (i = 0; i < count; ++i) {
            const float* row = data + ((int64_t)sample * count + i) * 6;
            int class_id = (int)row[5];
            float x1, y1, x2, y2, width, height;
            if (class_id < 0 || (uint32_t)class_id >= params->num_classes)
                continue;
            if (row[4] < params->pre_cluster_threshold[class_id])
                continue;
            x1 = clip(row[0], 0.0f, net_w);
            y1 = clip(row[1], 0.0f, net_h);
            x2 = clip(row[2], 0.0f, net_w);
            y2 = clip(row[3], 0.0f, net_h);
            width = clip(x2 - x1, 0.0f, net_w);
            height = clip(y2 - y1, 0.0f, net_h);
            if (width < 1.0f || height < 1.0f)
                continue;
            if (found < out->capacity) {
                DsflowObject* object = &out->items[found];
                object->sample = sample;
                object->class_id = class_id;
                object->left = x1;
                object->top = y1;
                object->width = width;
                object->height = height;
                object->confidence = row[4];
            }
            ++found;
        }
    }
    out->count = found;
    return found > out->capacity ? DSFLOW_NEED_MORE_SPACE : DSFLOW_OK;
}

DSFLOW_BBOX_PARSER(DsflowYoloRows);

int32_t DsflowYoloRows(const DsflowTensor* outputs, uint32_t num_outputs, uint32_t batch,
                       const DsflowNetworkInfo* network, const DsflowDetectionParams* params, void* cuda_stream,
                       DsflowObjects* out)
{
    (void)cuda_stream;
    ++dsflow_test_calls;
    return parse_rows(outputs, num_outputs, batch, network, params, out, 0);
}

/* The same, objects written from the last sample to the first (dsflow sorts them by sample). */
DSFLOW_BBOX_PARSER(DsflowYoloRowsReversed)
{
    (void)cuda_stream;
    return parse_rows(outputs, num_outputs, batch, network, params, out, 1);
}

/* Reports a failure. */
DSFLOW_BBOX_PARSER(DsflowFailingParser)
{
    (void)outputs, (void)num_outputs, (void)batch, (void)network, (void)params, (void)cuda_stream, (void)out;
    return DSFLOW_ERROR;
}

/* Asks for more space without saying how much. */
DSFLOW_BBOX_PARSER(DsflowNoProgressParser)
{
    (void)outputs, (void)num_outputs, (void)batch, (void)network, (void)params, (void)cuda_stream;
    out->count = 0;
    return DSFLOW_NEED_MORE_SPACE;
}

/* Tags an object with a sample outside the batch. */
DSFLOW_BBOX_PARSER(DsflowBadSampleParser)
{
    (void)outputs, (void)num_outputs, (void)network, (void)params, (void)cuda_stream;
    if (out->capacity < 1)
        return DSFLOW_ERROR;
    out->items[0].sample = batch;
    out->items[0].width = out->items[0].height = 4.0f;
    out->count = 1;
    return DSFLOW_OK;
}

/* Reports the stream pointer it was given as one object's confidence bits, to check the plumbing. */
DSFLOW_BBOX_PARSER(DsflowStreamEcho)
{
    (void)outputs, (void)num_outputs, (void)batch, (void)network, (void)params;
    if (out->capacity < 1)
        return DSFLOW_ERROR;
    out->items[0].class_id = (int32_t)(uintptr_t)cuda_stream;
    out->items[0].width = out->items[0].height = 1.0f;
    out->count = 1;
    return DSFLOW_OK;
}
