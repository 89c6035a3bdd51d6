"""Built-in output parsers: nvinfer's own, the DeepStream SDK samples', and common model exports.

Each is registered by name through the parser hooks, so a config's ``parse-bbox-func-name`` (and the
classifier, instance-mask and segmentation keys) picks them exactly as it would pick a symbol of a
custom library. Every parser is called once per sample (frame or object) with all output layers of
that sample, in engine order, and returns boxes in network-input pixels; the caller applies the
pre-cluster filter, clusters, and maps to the frame.

========================================  ==========================================================
Bounding boxes                            Output layers
========================================  ==========================================================
``detectnet``                             nvinfer's built-in DetectNet_v2 grid (``*cov*``, ``*bbox*``)
``NvDsInferParseCustomResnet``            the same grid, exact names, +1 sizes
``NvDsInferParseCustomSSD``               UFF SSD ``NMS`` + ``NMS_1``
``NvDsInferParseCustomTfSSD``             TF SSD ``num_detections``/``detection_*``
``NvDsInferParseCustomFasterRCNN``        Caffe ``rois``/``bbox_pred``/``cls_prob``
``NvDsInferParseCustomYoloV3`` (+Tiny)    Darknet YOLO heads, activated by the engine's plugin
``NvDsInferParseCustomYoloV2`` (+Tiny)    Darknet region output
``NvDsInferParseCustomNMSTLT``            TAO NMS plugin: rows + keep count
``NvDsInferParseCustomBatchedNMSTLT``     TAO BatchedNMS: count, boxes, scores, classes
``NvDsInferParseYoloV5CustomBatchedNMSTLT`` the same with pixel boxes
``NvDsInferParseCustomEfficientDetTAO``   TAO EfficientDet NMS outputs
``NvDsInferParseCustomDDETRTAO``          TAO Deformable-DETR / DINO queries
``NvDsInferParseYolo``                    DeepStream-Yolo rows (x1, y1, x2, y2, score, class)
``yolov5``, ``yolov8``, ``yolox``         raw YOLO heads
``picodet``                               PicoDet / GFL heads with DFL boxes
``end-to-end``                            models with NMS inside
========================================  ==========================================================

Instance masks: ``NvDsInferParseCustomMrcnnTLT``, ``NvDsInferParseCustomMrcnnTLTV2``. Classifiers:
``softmax`` (nvinfer's built-in). Semantic segmentation: ``argmax`` (nvinfer's built-in).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsflow.infer.parsers import classifier, detectnet, frcnn, maskrcnn, picodet, segmentation, ssd, tao, yolo
from dsflow.infer.parsers import yolo_darknet as darknet
from dsflow.plugins import hookimpl


@hookimpl
def dsflow_register_bbox_parsers() -> dict[str, Callable[..., Any]]:
    return {
        "detectnet": detectnet.parse_detectnet,
        "NvDsInferParseCustomResnet": detectnet.parse_resnet,
        "NvDsInferParseCustomSSD": ssd.parse_ssd,
        "NvDsInferParseCustomTfSSD": ssd.parse_tf_ssd,
        "NvDsInferParseCustomFasterRCNN": frcnn.parse_faster_rcnn,
        "NvDsInferParseCustomYoloV3": darknet.parse_yolo_v3,
        "NvDsInferParseCustomYoloV3Tiny": darknet.parse_yolo_v3_tiny,
        "NvDsInferParseCustomYoloV2": darknet.parse_yolo_v2,
        "NvDsInferParseCustomYoloV2Tiny": darknet.parse_yolo_v2_tiny,
        "NvDsInferParseCustomNMSTLT": tao.parse_nms_tlt,
        "NvDsInferParseCustomBatchedNMSTLT": tao.parse_batched_nms_tlt,
        "NvDsInferParseYoloV5CustomBatchedNMSTLT": tao.parse_yolov5_batched_nms_tlt,
        "NvDsInferParseCustomBatchedYoloV5NMSTLT": tao.parse_yolov5_batched_nms_tlt,  # tao_apps' spelling
        "NvDsInferParseCustomEfficientDetTAO": tao.parse_efficientdet_tao,
        "NvDsInferParseCustomDDETRTAO": tao.parse_ddetr_tao,
        "NvDsInferParseYolo": yolo.parse_yolo,
        "yolov5": yolo.parse_yolov5,
        "yolov8": yolo.parse_yolov8,
        "yolox": yolo.parse_yolox,
        "picodet": picodet.parse_picodet,
        "end-to-end": yolo.parse_end_to_end,
    }


@hookimpl
def dsflow_register_instance_mask_parsers() -> dict[str, Callable[..., Any]]:
    return {
        "NvDsInferParseCustomMrcnnTLT": maskrcnn.parse_mrcnn_tlt,
        "NvDsInferParseCustomMrcnnTLTV2": maskrcnn.parse_mrcnn_tlt_v2,
    }


@hookimpl
def dsflow_register_classifier_parsers() -> dict[str, Callable[..., Any]]:
    return {"softmax": classifier.parse_softmax}


@hookimpl
def dsflow_register_segmentation_parsers() -> dict[str, Callable[..., Any]]:
    return {"argmax": segmentation.parse_argmax}
