/*
 * An input-layer initializer through dsflow's C ABI: `im_info` (float32 [max_batch, 3]) gets
 * (network height, network width, 1) in every row, as Faster R-CNN models expect, and `row_id`
 * (int32 [max_batch, 1]) the row number. Any other input is an error.
 */
#include <string.h>

#include <dsflow/infer.h>

DSFLOW_INPUT_INITIALIZER(DsflowImInfo)
{
    uint32_t i, row;
    (void)cuda_stream;
    for (i = 0; i < num_inputs; ++i) {
        DsflowTensor* input = &inputs[i];
        if (input->ndim != 2 || input->dims[0] != (int64_t)max_batch_size)
            return DSFLOW_ERROR;
        if (strcmp(input->name, "im_info") == 0 && input->dtype == DSFLOW_FLOAT32 && input->dims[1] == 3) {
            float* info = (float*)input->data;
            for (row = 0; row < max_batch_size; ++row) {
                info[row * 3 + 0] = (float)network->height;
                info[row * 3 + 1] = (float)network->width;
                info[row * 3 + 2] = 1.0f;
            }
        } else if (strcmp(input->name, "row_id") == 0 && input->dtype == DSFLOW_INT32 && input->dims[1] == 1) {
            int32_t* ids = (int32_t*)input->data;
            for (row = 0; row < max_batch_size; ++row)
                ids[row] = (int32_t)row;
        } else {
            return DSFLOW_ERROR;
        }
    }
    return DSFLOW_OK;
}
