/*
 * dsflow/infer.h - dsflow's C ABI for custom inference functions in shared libraries.
 *
 * A library named by `custom-lib-path` may provide output parsers, an input-layer initializer
 * and an engine creator written against this header instead of nvinfer's C++ header. dsflow
 * calls them through plain C: no C++ types cross the boundary, every struct has fixed-width
 * fields and a fixed layout, and no memory changes owner (except the engine creator's model
 * bytes, which come with their own release function).
 *
 * Declare each function with the macro of its kind, before its definition (or as its head):
 *
 *     #include <dsflow/infer.h>
 *
 *     DSFLOW_BBOX_PARSER(MyParser);
 *     int32_t MyParser(const DsflowTensor* outputs, uint32_t num_outputs, uint32_t batch,
 *                      const DsflowNetworkInfo* network, const DsflowDetectionParams* params,
 *                      void* cuda_stream, DsflowObjects* out)
 *     { ... }
 *
 *     DSFLOW_CLASSIFIER_PARSER(MyClassifier) { ... uses outputs, batch, threshold, out ... }
 *
 * The macro gives the function C linkage and default visibility, checks its prototype (a wrong
 * one does not compile in C; in C++ write the macro first or use it as the definition's head,
 * since C++ would take a different parameter list as an overload) and exports a
 * `DsflowFunctionInfo dsflow_info_<name>` next to it. dsflow finds the function by that symbol
 * and checks the ABI version, the kind and the struct sizes before the first call. The name in
 * the nvinfer config (parse-bbox-func-name=MyParser, ...) is the function's name.
 *
 * Build: cc -shared -fPIC -O2 -I "$(dsflow include)" my_parsers.c -o libmy_parsers.so
 *
 * Calls. Every function is called once per batch, never concurrently for one node, but possibly
 * concurrently from different nodes, so keep no mutable global state (or guard it). A parser may
 * be called a second time with the same inputs (see DSFLOW_NEED_MORE_SPACE), so it must not
 * depend on being called once. `cuda_stream` is the node's CUDA stream (a cudaStream_t) when the
 * node runs on a GPU, NULL on the CPU. Tensor data is host memory (readable and, for input
 * initializers, writable) valid for the duration of the call only.
 *
 * Versioning. DSFLOW_ABI_VERSION changes whenever a layout or a signature below changes; dsflow
 * refuses a function built against another version and names both versions.
 */
#ifndef DSFLOW_INFER_H
#define DSFLOW_INFER_H

#include <stdint.h>

#define DSFLOW_ABI_VERSION 1

#define DSFLOW_MAX_DIMS 8
#define DSFLOW_MAX_LABEL 128

#ifdef __cplusplus
#define DSFLOW_EXTERN extern "C"
extern "C" {
#else
#define DSFLOW_EXTERN extern
#endif

#if defined(_WIN32)
#define DSFLOW_EXPORT __declspec(dllexport)
#define DSFLOW_USED
#elif defined(__GNUC__)
#define DSFLOW_EXPORT __attribute__((visibility("default")))
#define DSFLOW_USED __attribute__((used))
#else
#define DSFLOW_EXPORT
#define DSFLOW_USED
#endif

/* Element types of tensors (the first four have nvinfer's NvDsInferDataType numbers). */
typedef enum DsflowDataType {
    DSFLOW_FLOAT32 = 0,
    DSFLOW_FLOAT16 = 1,
    DSFLOW_INT8 = 2,
    DSFLOW_INT32 = 3,
    DSFLOW_INT64 = 4,
    DSFLOW_UINT8 = 5
} DsflowDataType;

/* What every function returns. */
typedef enum DsflowStatus {
    DSFLOW_OK = 0,
    DSFLOW_ERROR = 1,              /* dsflow stops the graph, naming the function and its library */
    DSFLOW_NEED_MORE_SPACE = 2     /* parsers only: the output buffers are too small (see DsflowObjects) */
} DsflowStatus;

/* What a DsflowFunctionInfo describes. */
typedef enum DsflowKind {
    DSFLOW_KIND_BBOX_PARSER = 1,          /* parse-bbox-func-name */
    DSFLOW_KIND_INSTANCE_MASK_PARSER = 2, /* parse-bbox-instance-mask-func-name */
    DSFLOW_KIND_CLASSIFIER_PARSER = 3,    /* parse-classifier-func-name */
    DSFLOW_KIND_INPUT_INITIALIZER = 4,    /* input-init-func-name */
    DSFLOW_KIND_ENGINE_CREATOR = 5,       /* engine-create-func-name */
    DSFLOW_KIND_MODEL_PARSER = 6          /* model-parser-func-name: model_file (a custom format) to ONNX */
} DsflowKind;

/* Formats of DsflowBlob. */
typedef enum DsflowBlobFormat {
    DSFLOW_BLOB_ONNX = 0,             /* a serialized ONNX ModelProto */
    DSFLOW_BLOB_SERIALIZED_ENGINE = 1 /* a serialized TensorRT engine (for a TensorRT backend only) */
} DsflowBlobFormat;

/*
 * One tensor of the whole batch, batch first: dims[0] is the number of rows (the `batch`
 * argument of parsers, `max_batch_size` for input initializers), dims[1..ndim-1] one sample's
 * shape. Data is C-contiguous; row b starts at element b * (dims[1] * ... * dims[ndim-1]).
 * `index` is the binding position among the engine's outputs (inputs for initializers);
 * tensors come in that order. `name` and `data` belong to dsflow.
 * Size 96: name @0, data @8, dtype @16, index @20, ndim @24, dims @32.
 */
typedef struct DsflowTensor {
    const char* name;
    void* data;
    int32_t dtype;      /* a DsflowDataType */
    int32_t index;
    uint32_t ndim;      /* including the batch dimension, at most DSFLOW_MAX_DIMS */
    uint32_t _reserved; /* 0 */
    int64_t dims[DSFLOW_MAX_DIMS];
} DsflowTensor;

/* Size of the network input, in pixels (nvinfer's NvDsInferNetworkInfo). Size 12. */
typedef struct DsflowNetworkInfo {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
} DsflowNetworkInfo;

/*
 * Per-class thresholds for detectors: arrays of num_classes floats, owned by dsflow. dsflow
 * applies the pre-cluster threshold again after the parser (as nvinfer does), so using it in the
 * parser only saves work. Size 24: num_classes @0, pre @8, post @16.
 */
typedef struct DsflowDetectionParams {
    uint32_t num_classes; /* num-detected-classes */
    uint32_t _reserved;   /* 0 */
    const float* pre_cluster_threshold;
    const float* post_cluster_threshold;
} DsflowDetectionParams;

/*
 * One detected object of sample `sample` (0 <= sample < batch); box in network-input pixels.
 * Size 28.
 */
typedef struct DsflowObject {
    uint32_t sample;
    int32_t class_id;
    float left;
    float top;
    float width;
    float height;
    float confidence;
} DsflowObject;

/*
 * The output of bbox and instance-mask parsers, allocated by dsflow.
 *
 * On entry: `items` holds `capacity` zero-filled records, `count` is 0; for instance-mask
 * parsers `masks` holds `mask_capacity` floats (contents unspecified), for bbox parsers it is
 * NULL with mask_capacity 0.
 * On DSFLOW_OK: the first `count` items are the objects of the whole batch, each tagged with its
 * sample; any sample order is accepted and the order within a sample is kept. An instance-mask
 * parser also sets `mask_width` and `mask_height` and writes object i's mask (row-major,
 * mask_height x mask_width, over the object's box) at masks + i * mask_width * mask_height.
 * When the buffers are too small: set `count` to the number of objects needed (and the mask
 * dims), write nothing else that matters, and return DSFLOW_NEED_MORE_SPACE; dsflow calls the
 * parser again with the same inputs and buffers at least that large. Never write past
 * `capacity` items or `mask_capacity` floats.
 * Size 40: items @0, capacity @8, count @12, masks @16, mask_capacity @24, mask_width @32,
 * mask_height @36.
 */
typedef struct DsflowObjects {
    DsflowObject* items;
    uint32_t capacity;
    uint32_t count;
    float* masks;
    uint64_t mask_capacity; /* in floats */
    uint32_t mask_width;
    uint32_t mask_height;
} DsflowObjects;

/*
 * One classifier result of sample `sample`: class `class_id` of attribute `index` (usually the
 * output layer it comes from). `label` is NUL-terminated UTF-8; leave it empty to take the label
 * from labelfile-path (line `index`, entry `class_id`). Size 144.
 */
typedef struct DsflowAttribute {
    uint32_t sample;
    uint32_t index;
    uint32_t class_id;
    float confidence;
    char label[DSFLOW_MAX_LABEL];
} DsflowAttribute;

/*
 * The output of classifier parsers, allocated by dsflow: same protocol as DsflowObjects
 * (zero-filled `capacity` items on entry; `count` used; DSFLOW_NEED_MORE_SPACE with `count` set to
 * what is needed). Size 16: items @0, capacity @8, count @12.
 */
typedef struct DsflowAttributes {
    DsflowAttribute* items;
    uint32_t capacity;
    uint32_t count;
} DsflowAttributes;

/*
 * What an engine creator is asked for, from the stage's nvinfer config. Strings are
 * NUL-terminated paths or values owned by dsflow, NULL when the key is not set.
 * Size 48: config_path @0, onnx_file @8, custom_network_config @16, model_file @24,
 * max_batch_size @32, network_mode @36, cuda_stream @40.
 */
typedef struct DsflowEngineRequest {
    const char* config_path;           /* the nvinfer config file (or graph file) of the stage */
    const char* onnx_file;             /* onnx-file */
    const char* custom_network_config; /* custom-network-config */
    const char* model_file;            /* model-file */
    uint32_t max_batch_size;           /* batch-size */
    int32_t network_mode;              /* network-mode: 0 FP32, 1 INT8, 2 FP16 */
    void* cuda_stream;                 /* NULL: engines are created before any stream exists */
} DsflowEngineRequest;

/*
 * A model made by an engine creator. Ownership: the library allocates `data` (any allocator);
 * dsflow copies the `size` bytes and then calls `release(data)` exactly once, whenever the
 * function returned with both `data` and `release` non-NULL, whatever the status. With
 * `release` NULL the bytes must stay valid as long as the library is loaded (static data).
 * Size 32: data @0, size @8, format @16, release @24.
 */
typedef struct DsflowBlob {
    void* data;
    uint64_t size;
    int32_t format;     /* a DsflowBlobFormat */
    uint32_t _reserved; /* 0 */
    void (*release)(void* data);
} DsflowBlob;

/*
 * What the declaration macros export as `dsflow_info_<name>`. `object_size` is the size of the
 * kind's main struct: DsflowObject (bbox and instance-mask parsers), DsflowAttribute
 * (classifier parsers), DsflowNetworkInfo (input initializers), DsflowEngineRequest (engine
 * creators). Size 16.
 */
typedef struct DsflowFunctionInfo {
    uint32_t abi_version;
    uint32_t kind;        /* a DsflowKind */
    uint32_t tensor_size; /* sizeof(DsflowTensor) */
    uint32_t object_size;
} DsflowFunctionInfo;

/* -- signatures ------------------------------------------------------------------------------- */

/* bbox and instance-mask parsers: all output tensors of the batch -> objects of every sample. */
typedef int32_t (*DsflowBboxParserFn)(const DsflowTensor* outputs, uint32_t num_outputs, uint32_t batch,
                                      const DsflowNetworkInfo* network, const DsflowDetectionParams* params,
                                      void* cuda_stream, DsflowObjects* out);
typedef DsflowBboxParserFn DsflowInstanceMaskParserFn;

/* classifier parsers: all output tensors of the batch -> attributes of every sample. */
typedef int32_t (*DsflowClassifierParserFn)(const DsflowTensor* outputs, uint32_t num_outputs, uint32_t batch,
                                            const DsflowNetworkInfo* network, float threshold, void* cuda_stream,
                                            DsflowAttributes* out);

/*
 * input initializers: the engine's inputs other than the image (binding 0), as zero-filled host
 * buffers of max_batch_size rows (dims[0] = max_batch_size) to fill in place. Called once per
 * engine; dsflow feeds each inference the first rows.
 */
typedef int32_t (*DsflowInputInitializerFn)(DsflowTensor* inputs, uint32_t num_inputs,
                                            const DsflowNetworkInfo* network, uint32_t max_batch_size,
                                            void* cuda_stream);

/* engine creators: the stage's model as bytes (see DsflowBlob for who frees what). */
typedef int32_t (*DsflowEngineCreatorFn)(const DsflowEngineRequest* request, DsflowBlob* out);

/* -- declaration macros ----------------------------------------------------------------------- */

#define DSFLOW_BBOX_PARSER_PARAMS                                                                    \
    (const DsflowTensor* outputs, uint32_t num_outputs, uint32_t batch, const DsflowNetworkInfo* network, \
     const DsflowDetectionParams* params, void* cuda_stream, DsflowObjects* out)
#define DSFLOW_CLASSIFIER_PARSER_PARAMS                                                              \
    (const DsflowTensor* outputs, uint32_t num_outputs, uint32_t batch, const DsflowNetworkInfo* network, \
     float threshold, void* cuda_stream, DsflowAttributes* out)
#define DSFLOW_INPUT_INITIALIZER_PARAMS                                                              \
    (DsflowTensor* inputs, uint32_t num_inputs, const DsflowNetworkInfo* network, uint32_t max_batch_size, \
     void* cuda_stream)
#define DSFLOW_ENGINE_CREATOR_PARAMS (const DsflowEngineRequest* request, DsflowBlob* out)

/*
 * The common part: declare the function (C linkage, exported), export its info, bind it to the
 * kind's pointer type in a helper (a wrong prototype is a compile error in C; in C++ a reference
 * to an undefined C-linkage name makes dlopen fail naming it), and end with the declaration
 * again so that `;` or a function body follows the macro.
 */
#define DSFLOW_DECLARE_(name, fn_type, params, kind, object_type)                                     \
    DSFLOW_EXTERN DSFLOW_EXPORT int32_t name params;                                                   \
    DSFLOW_EXTERN DSFLOW_EXPORT const DsflowFunctionInfo dsflow_info_##name;                           \
    const DsflowFunctionInfo dsflow_info_##name = {DSFLOW_ABI_VERSION, (uint32_t)(kind),               \
                                                   (uint32_t)sizeof(DsflowTensor),                     \
                                                   (uint32_t)sizeof(object_type)};                     \
    static inline DSFLOW_USED fn_type dsflow_check_##name(void) { return name; }                       \
    DSFLOW_EXTERN DSFLOW_EXPORT int32_t name params

#define DSFLOW_BBOX_PARSER(name)                                                                      \
    DSFLOW_DECLARE_(name, DsflowBboxParserFn, DSFLOW_BBOX_PARSER_PARAMS, DSFLOW_KIND_BBOX_PARSER, DsflowObject)
#define DSFLOW_INSTANCE_MASK_PARSER(name)                                                             \
    DSFLOW_DECLARE_(name, DsflowInstanceMaskParserFn, DSFLOW_BBOX_PARSER_PARAMS,                       \
                    DSFLOW_KIND_INSTANCE_MASK_PARSER, DsflowObject)
#define DSFLOW_CLASSIFIER_PARSER(name)                                                                \
    DSFLOW_DECLARE_(name, DsflowClassifierParserFn, DSFLOW_CLASSIFIER_PARSER_PARAMS,                   \
                    DSFLOW_KIND_CLASSIFIER_PARSER, DsflowAttribute)
#define DSFLOW_INPUT_INITIALIZER(name)                                                                \
    DSFLOW_DECLARE_(name, DsflowInputInitializerFn, DSFLOW_INPUT_INITIALIZER_PARAMS,                   \
                    DSFLOW_KIND_INPUT_INITIALIZER, DsflowNetworkInfo)
#define DSFLOW_ENGINE_CREATOR(name)                                                                   \
    DSFLOW_DECLARE_(name, DsflowEngineCreatorFn, DSFLOW_ENGINE_CREATOR_PARAMS, DSFLOW_KIND_ENGINE_CREATOR, \
                    DsflowEngineRequest)
/* A model parser has the engine creator's signature: it reads request->model_file and returns ONNX. */
#define DSFLOW_MODEL_PARSER(name)                                                                     \
    DSFLOW_DECLARE_(name, DsflowEngineCreatorFn, DSFLOW_ENGINE_CREATOR_PARAMS, DSFLOW_KIND_MODEL_PARSER,   \
                    DsflowEngineRequest)

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DSFLOW_INFER_H */
