/*
 * Engine creators through dsflow's C ABI. DsflowOnnxFromRequest returns the bytes of the
 * request's onnx_file in a malloc'd buffer released by count_and_free, and records the request
 * in exported variables so the test can check every field. DsflowEmbeddedOnnx returns a model
 * compiled into the library (embedded_model.h, written by the test) with no release function.
 * The others return a serialized engine, fail, or fail after allocating.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dsflow/infer.h>

#include "embedded_model.h" /* static const unsigned char dsflow_test_model[]; */

DSFLOW_EXPORT uint32_t dsflow_test_releases = 0;
DSFLOW_EXPORT char dsflow_test_config_path[4096];
DSFLOW_EXPORT char dsflow_test_onnx_file[4096];
DSFLOW_EXPORT char dsflow_test_custom_network_config[4096];
DSFLOW_EXPORT char dsflow_test_model_file[4096];
DSFLOW_EXPORT uint32_t dsflow_test_max_batch_size = 0;
DSFLOW_EXPORT int32_t dsflow_test_network_mode = -1;
DSFLOW_EXPORT int32_t dsflow_test_stream_is_null = -1;

static void count_and_free(void* data)
{
    ++dsflow_test_releases;
    free(data);
}

static void record(char* to, const char* value)
{
    snprintf(to, 4096, "%s", value ? value : "(null)");
}

DSFLOW_ENGINE_CREATOR(DsflowOnnxFromRequest)
{
    FILE* file;
    long size;
    void* data;
    record(dsflow_test_config_path, request->config_path);
    record(dsflow_test_onnx_file, request->onnx_file);
    record(dsflow_test_custom_network_config, request->custom_network_config);
    record(dsflow_test_model_file, request->model_file);
    dsflow_test_max_batch_size = request->max_batch_size;
    dsflow_test_network_mode = request->network_mode;
    dsflow_test_stream_is_null = request->cuda_stream == NULL;
    if (!request->onnx_file || !(file = fopen(request->onnx_file, "rb")))
        return DSFLOW_ERROR;
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    data = malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, file) != (size_t)size) {
        free(data);
        fclose(file);
        return DSFLOW_ERROR;
    }
    fclose(file);
    out->data = data;
    out->size = (uint64_t)size;
    out->format = DSFLOW_BLOB_ONNX;
    out->release = count_and_free;
    return DSFLOW_OK;
}

DSFLOW_ENGINE_CREATOR(DsflowEmbeddedOnnx)
{
    (void)request;
    out->data = (void*)dsflow_test_model;
    out->size = sizeof dsflow_test_model;
    out->format = DSFLOW_BLOB_ONNX;
    out->release = NULL;
    return DSFLOW_OK;
}

static void* copy_text(const char* text)
{
    size_t n = strlen(text);
    char* data = (char*)malloc(n);
    memcpy(data, text, n);
    return data;
}

DSFLOW_ENGINE_CREATOR(DsflowTensorRtEngine)
{
    (void)request;
    out->data = copy_text("not really an engine");
    out->size = 20;
    out->format = DSFLOW_BLOB_SERIALIZED_ENGINE;
    out->release = count_and_free;
    return DSFLOW_OK;
}

DSFLOW_ENGINE_CREATOR(DsflowFailingCreator)
{
    (void)request;
    out->data = copy_text("half done");
    out->size = 9;
    out->release = count_and_free;
    return DSFLOW_ERROR;
}

/* A model parser for a made-up container format: the 8 bytes "DSFLOWM1", then an ONNX model.
   It reads request->model_file, checks the magic and returns the payload (static-free: malloc'd,
   released by count_and_free). */
DSFLOW_MODEL_PARSER(DsflowContainerToOnnx)
{
    FILE* file;
    long size;
    char magic[8];
    void* data;
    if (!request->model_file || !(file = fopen(request->model_file, "rb")))
        return DSFLOW_ERROR;
    fseek(file, 0, SEEK_END);
    size = ftell(file) - 8;
    fseek(file, 0, SEEK_SET);
    if (size <= 0 || fread(magic, 1, 8, file) != 8 || memcmp(magic, "DSFLOWM1", 8) != 0) {
        fclose(file);
        return DSFLOW_ERROR;
    }
    data = malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, file) != (size_t)size) {
        free(data);
        fclose(file);
        return DSFLOW_ERROR;
    }
    fclose(file);
    out->data = data;
    out->size = (uint64_t)size;
    out->format = DSFLOW_BLOB_ONNX;
    out->release = count_and_free;
    return DSFLOW_OK;
}
