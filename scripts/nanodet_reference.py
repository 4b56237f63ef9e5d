#!/usr/bin/python3
"""Python reference for the COCO detector (NanoDet-g with a GFL head): the
preprocessing, box decoding and NMS that the C++ detection path is judged
against, and its COCO evaluation.

    # preprocessed inputs for the tfjs reference (scripts/tfjs-reference/run.cjs)
    nanodet_reference.py inputs IMG... --out inputs.bin
    # converted module vs the tfjs outputs for the same inputs
    nanodet_reference.py compare --model M.pt --inputs inputs.bin --reference ref.bin
    # COCO figures on a COCO-format folder (instances.json + images/)
    nanodet_reference.py eval --model M.pt --coco DIR [--resize letterbox] [--centre 0]
    # detections on photos, optionally drawn
    nanodet_reference.py show --model M.pt IMG... [--draw DIR]

Preprocessing (NanoDet's): BGR 8-bit, resized with bilinear interpolation
(no antialiasing) to fit 416 x 416 keeping the aspect ratio, centred, padded
with 0 (`letterbox`, what sense's image.resize letterbox does with pad_value
0); then (x - mean) / std per channel with mean [103.53, 116.28, 123.675] and
std [57.375, 57.12, 58.395] in 8-bit units. `warp` is NanoDet's own
cv2.warpPerspective form of the same transform; `stretch` ignores the aspect.

Decoding (GFL): the model returns scores [B, A, 80] (sigmoid applied inside)
and box distributions [B, A, 4 * (reg_max + 1)], A = 52*52 + 26*26 + 13*13
anchors, strides 8, 16, 32, row-major within a level. Each side (left, top,
right, bottom) is softmax over reg_max + 1 = 11 bins, its expectation times
the stride is the distance from the anchor centre ((x + c) * stride,
(y + c) * stride), c = --centre. Every class whose score exceeds the
threshold gives a candidate; per-class NMS; the best 100 per image.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

COCO_LABELS = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush"]
MEAN = [103.53, 116.28, 123.675]
STD = [57.375, 57.12, 58.395]
SIZE = 416
STRIDES = [8, 16, 32]
REG_MAX = 10


def preprocess(bgr, mode="letterbox", size=SIZE):
    """Returns the float32 CHW input and a function mapping boxes [N,4] xyxy in
    input pixels back to the original image."""
    import cv2
    h, w = bgr.shape[:2]
    if mode == "stretch":
        img = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_LINEAR)
        sx, sy, ox, oy = size / w, size / h, 0.0, 0.0
        back = lambda b: (b - [ox, oy, ox, oy]) / [sx, sy, sx, sy]
    elif mode == "letterbox":
        r = min(size / w, size / h)
        nw, nh = max(1, int(np.floor(w * r + 0.5))), max(1, int(np.floor(h * r + 0.5)))  # std::lround
        img = np.zeros((size, size, 3), np.uint8)
        ox, oy = (size - nw) // 2, (size - nh) // 2
        img[oy:oy + nh, ox:ox + nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        sx, sy = nw / w, nh / h
        back = lambda b: (b - [ox, oy, ox, oy]) / [sx, sy, sx, sy]
    elif mode == "warp":  # NanoDet's get_resize_matrix(keep_ratio=True) + cv2.warpPerspective
        r = size / h if w / h < 1.0 else size / w
        M = np.array([[r, 0, size / 2 - r * w / 2], [0, r, size / 2 - r * h / 2], [0, 0, 1]])
        img = cv2.warpPerspective(bgr, M, (size, size))
        back = lambda b: (b - [M[0, 2], M[1, 2], M[0, 2], M[1, 2]]) / r
    else:
        raise ValueError(mode)
    x = (img.astype(np.float32) - np.float32(MEAN)) / np.float32(STD)
    return np.ascontiguousarray(x.transpose(2, 0, 1)), back


def anchor_centres(size=SIZE, strides=STRIDES, offset=0.0):
    pts, st = [], []
    for s in strides:
        n = -(-size // s)
        ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        pts.append(np.stack([(xs.ravel() + offset) * s, (ys.ravel() + offset) * s], 1))
        st.append(np.full(n * n, s, np.float32))
    return np.concatenate(pts).astype(np.float32), np.concatenate(st)


def decode(scores, dists, score_threshold=0.01, iou=0.6, max_det=100, centre=0.0, size=SIZE):
    """scores [A,C], dists [A,4*(R+1)] for one image -> boxes [N,4] (input
    pixels, xyxy, clipped to the input), scores [N], labels [N]."""
    from torchvision.ops import batched_nms
    scores = torch.as_tensor(scores)
    dists = torch.as_tensor(dists)
    A = scores.shape[0]
    bins = dists.shape[1] // 4
    pts, st = anchor_centres(size, STRIDES, centre)
    pts, st = torch.from_numpy(pts), torch.from_numpy(st)
    prob = dists.reshape(A, 4, bins).softmax(-1)
    d = (prob * torch.arange(bins, dtype=torch.float32)).sum(-1) * st[:, None]
    boxes = torch.stack([pts[:, 0] - d[:, 0], pts[:, 1] - d[:, 1], pts[:, 0] + d[:, 2], pts[:, 1] + d[:, 3]], 1)
    boxes = boxes.clamp(0, size)
    ai, ci = torch.nonzero(scores > score_threshold, as_tuple=True)
    b, s = boxes[ai], scores[ai, ci]
    keep = batched_nms(b, s, ci, iou)[:max_det]
    return b[keep].numpy(), s[keep].numpy(), ci[keep].numpy()


def load_model(path):
    import pack_model
    m, _ = pack_model.load(path)
    return m.eval()


def detect(model, bgr, resize="letterbox", centre=0.0, **kw):
    x, back = preprocess(bgr, resize)
    with torch.no_grad():
        sc, di = model(torch.from_numpy(x)[None])
    b, s, l = decode(sc[0], di[0], centre=centre, **kw)
    b = back(b.astype(np.float64)) if len(b) else b.reshape(0, 4)
    h, w = bgr.shape[:2]
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
    return b, s, l


def read_bgr(path):
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"{path}: cannot read the image")
    return img


def cmd_inputs(a):
    xs = [preprocess(read_bgr(p), a.resize)[0] for p in a.images]
    arr = np.stack(xs).astype("<f4")
    arr.tofile(a.out)
    print(f"wrote {a.out}: {list(arr.shape)} float32 ({a.resize})")


def cmd_compare(a):
    model = load_model(a.model)
    meta = json.load(open(a.reference + ".json"))
    x = np.fromfile(a.inputs, "<f4").reshape(meta["n"], 3, SIZE, SIZE)
    ref = np.fromfile(a.reference, "<f4")
    per = [int(np.prod(s)) for s in meta["shapes"]]
    ref = ref.reshape(meta["n"], sum(per))
    worst = {"scores": 0.0, "box_distributions": 0.0}
    with torch.no_grad():
        for i in range(meta["n"]):
            sc, di = model(torch.from_numpy(x[i:i + 1].copy()))
            parts = np.split(ref[i], np.cumsum(per)[:-1])
            # reference outputs are named in the order: scores per level, then distributions per level
            k = len(parts) // 2
            rs = np.concatenate([p.reshape(-1, meta["shapes"][j][-1]) for j, p in enumerate(parts[:k])])
            rd = np.concatenate([p.reshape(-1, meta["shapes"][k + j][-1]) for j, p in enumerate(parts[k:])])
            ds = float(np.abs(sc[0].numpy() - rs).max())
            dd = float(np.abs(di[0].numpy() - rd).max())
            worst["scores"] = max(worst["scores"], ds)
            worst["box_distributions"] = max(worst["box_distributions"], dd)
            print(f"input {i}: max |torch - tfjs| scores {ds:.3g}, box distributions {dd:.3g}; "
                  f"value ranges: scores [{rs.min():.3g}, {rs.max():.3g}], distributions [{rd.min():.3g}, {rd.max():.3g}]")
    print(f"max abs difference over {meta['n']} inputs: scores {worst['scores']:.3g}, "
          f"box distributions {worst['box_distributions']:.3g} (tfjs {meta['tfjs']}, backend {meta['backend']})")


def run_coco(model, coco_dir, resize, centre, **kw):
    import coco_eval
    gt = json.load(open(os.path.join(coco_dir, "instances.json")))
    cats = sorted(gt["categories"], key=lambda c: c["id"])
    if [c["name"] for c in cats] != COCO_LABELS:
        raise SystemExit("instances.json categories differ from the 80 COCO labels")
    dets = []
    for im in gt["images"]:
        b, s, l = detect(model, read_bgr(os.path.join(coco_dir, "images", im["file_name"])), resize, centre, **kw)
        for bb, ss, ll in zip(b, s, l):
            dets.append({"image_id": im["id"], "category_id": cats[int(ll)]["id"], "score": float(ss),
                         "bbox": [float(bb[0]), float(bb[1]), float(bb[2] - bb[0]), float(bb[3] - bb[1])]})
    return coco_eval.evaluate(gt, dets, per_class=True), dets


def cmd_eval(a):
    torch.set_num_threads(a.threads)
    model = load_model(a.model)
    stats, dets = run_coco(model, a.coco, a.resize, a.centre, score_threshold=a.threshold, iou=a.iou, max_det=a.max_det)
    pc = stats.pop("per_class")
    print(f"resize {a.resize}, centre offset {a.centre}, score > {a.threshold}, NMS {a.iou}, {a.max_det} per image; "
          f"{len(dets)} detections")
    print("  ".join(f"{k} {100 * v:.1f}" for k, v in stats.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"stats": stats, "per_class": pc, "settings": vars(a)}, f, indent=1)


def cmd_show(a):
    import cv2
    model = load_model(a.model)
    for p in a.images:
        img = read_bgr(p)
        b, s, l = detect(model, img, a.resize, a.centre, score_threshold=0.01, iou=a.iou, max_det=100)
        keep = s >= a.threshold
        print(p)
        for bb, ss, ll in zip(b[keep], s[keep], l[keep]):
            print(f"  {COCO_LABELS[ll]:<14} {ss:.2f}  [{bb[0]:.0f}, {bb[1]:.0f}, {bb[2]:.0f}, {bb[3]:.0f}]")
        if a.draw:
            os.makedirs(a.draw, exist_ok=True)
            for bb, ss, ll in zip(b[keep], s[keep], l[keep]):
                x1, y1, x2, y2 = [int(round(v)) for v in bb]
                cv2.rectangle(img, (x1, y1), (x2, y2), (0, 255, 0), 2)
                cv2.putText(img, f"{COCO_LABELS[ll]} {ss:.2f}", (x1 + 2, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                            0.5, (0, 255, 0), 1, cv2.LINE_AA)
            cv2.imwrite(os.path.join(a.draw, os.path.basename(p)), img)


def main():
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inputs")
    p.add_argument("images", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--resize", default="letterbox", choices=["letterbox", "warp", "stretch"])
    p = sub.add_parser("compare")
    p.add_argument("--model", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--reference", required=True)
    for name in ("eval", "show"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--resize", default="letterbox", choices=["letterbox", "warp", "stretch"])
        p.add_argument("--centre", type=float, default=0.0, help="anchor centre offset in strides (0 or 0.5)")
        p.add_argument("--iou", type=float, default=0.6)
        if name == "eval":
            p.add_argument("--coco", required=True, help="folder with instances.json and images/")
            p.add_argument("--threshold", type=float, default=0.01)
            p.add_argument("--max-det", type=int, default=100)
            p.add_argument("--threads", type=int, default=1)
            p.add_argument("--json", help="write the figures and per-class AP here")
        else:
            p.add_argument("images", nargs="+")
            p.add_argument("--threshold", type=float, default=0.35, help="shown score threshold")
            p.add_argument("--draw", help="folder for annotated copies")
    a = ap.parse_args()
    {"inputs": cmd_inputs, "compare": cmd_compare, "eval": cmd_eval, "show": cmd_show}[a.cmd](a)


if __name__ == "__main__":
    main()
