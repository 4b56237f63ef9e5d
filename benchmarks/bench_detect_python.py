#!/usr/bin/python3
"""The Python pipeline sense-detect is compared with: the same TorchScript
detector driven from Python, with OpenCV decoding, the same preprocessing,
GFL box decoding in torch and torchvision's batched_nms.

    /usr/bin/python3 benchmarks/bench_detect_python.py --model coco-detector.pt --threads 1 --batch 1 \\
        [--seconds 8] [--optimize] [--json] IMAGE_OR_DIR...
    /usr/bin/python3 benchmarks/bench_detect_python.py --model coco-detector.pt --export-onnx OUT.onnx

Mirrors bench_detect (C++) for one (threads, batch) configuration, end to
end: cv2.imread (BGR, as sense decodes) -> the bundle's letterbox (cv2.resize
bilinear to round(w * r) x round(h * r), centred, padded with the bundle's
pad value; or its warp form when the metadata says so) -> (x * scale - mean) /
std -> torch.stack -> model(x) under torch.inference_mode() -> GFL decoding
(softmax over the distribution bins, distances times stride from the anchor
centres, anchors computed once) -> every class above the score threshold
per box (the bundle's multi_label) -> batched_nms per class -> the best
max_detections -> boxes mapped back to the image and clipped. Thresholds
are the bundle's defaults, as bench_detect uses them. Warm-up calls are not
counted. Reports end-to-end images/s, CPU ms per image (all threads), the
model alone on a ready batch, latency, and the process's peak RSS.

--optimize applies the graph optimisation sense applies at load
(torch.jit.freeze + torch.jit.optimize_for_inference): impl "python-opt".

--export-onnx writes the same network as ONNX (torch.onnx.export of the
loaded module, opset 13, dynamic batch) plus OUT.onnx.json with the input
size for benchmarks/bench_onnxruntime.js, and checks ONNX Runtime-free
agreement by re-running nothing (the runner compares outputs separately).
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import cv2
import numpy as np
import torch
from torchvision.ops import batched_nms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import pack_model  # noqa: E402

EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def gather(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            found = []
            for root, _, names in os.walk(a):
                found += [os.path.join(root, n) for n in names if n.lower().endswith(EXTS)]
            files += sorted(found)
        else:
            files.append(a)
    return files


class Pipeline:
    def __init__(self, model, meta):
        self.model = model
        p = meta["image"]
        d = meta["detection"]
        if d.get("layout") != "gfl":
            raise SystemExit("bench_detect_python: expects a gfl-layout bundle (the COCO detector)")
        g = d["gfl"]
        self.W, self.H = p["width"], p["height"]
        self.resize = p.get("resize", "letterbox")
        self.sampling = p.get("letterbox_sampling", p.get("sampling", "resize"))
        self.pad = p.get("pad_value", [0, 0, 0])
        scale = p.get("scale", 1.0)
        self.mul = (np.float32(scale) / np.float32(p["std"])).astype(np.float32)
        self.sub = (np.float32(p["mean"]) / np.float32(p["std"])).astype(np.float32)
        self.rgb = p.get("color", "rgb") == "rgb"
        self.thr = d.get("score_threshold", 0.35)
        self.iou = d.get("iou_threshold", 0.6)
        self.max_det = d.get("max_detections", 100)
        self.multi = d.get("multi_label", True)
        self.reg = g["reg_max"] + 1
        off = g.get("centre_offset", 0.5)
        pts, st = [], []
        for s in g["strides"]:
            nx, ny = -(-self.W // s), -(-self.H // s)
            ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
            pts.append(np.stack([(xs.ravel() + off) * s, (ys.ravel() + off) * s], 1))
            st.append(np.full(nx * ny, s, np.float32))
        self.centres = torch.from_numpy(np.concatenate(pts).astype(np.float32))
        self.strides = torch.from_numpy(np.concatenate(st))[:, None]
        self.bins = torch.arange(self.reg, dtype=torch.float32)

    def preprocess(self, bgr):
        h, w = bgr.shape[:2]
        if self.resize == "stretch":
            img = cv2.resize(bgr, (self.W, self.H), interpolation=cv2.INTER_LINEAR)
            sx, sy, ox, oy = self.W / w, self.H / h, 0.0, 0.0
        elif self.sampling == "warp":  # NanoDet's keep-ratio transform, the cv2.warpPerspective call sense makes
            r = min(self.W / w, self.H / h)
            ox, oy = self.W / 2 - r * w / 2, self.H / 2 - r * h / 2
            M = np.array([[r, 0, ox], [0, r, oy], [0, 0, 1]])
            img = cv2.warpPerspective(bgr, M, (self.W, self.H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                      borderValue=self.pad)
            sx = sy = r
        else:  # letterbox by resize, as sense's cv::resize + copyMakeBorder
            r = min(self.W / w, self.H / h)
            nw, nh = max(1, int(math.floor(w * r + 0.5))), max(1, int(math.floor(h * r + 0.5)))
            ox, oy = (self.W - nw) // 2, (self.H - nh) // 2
            img = cv2.copyMakeBorder(cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR), oy, self.H - nh - oy, ox,
                                     self.W - nw - ox, cv2.BORDER_CONSTANT, value=self.pad)
            sx, sy = nw / w, nh / h
        if self.rgb:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        x = img.astype(np.float32) * self.mul - self.sub
        return torch.from_numpy(x.transpose(2, 0, 1)), (sx, sy, ox, oy, w, h)

    def postprocess(self, scores, dists, tr):
        A = scores.shape[0]
        prob = dists.reshape(A, 4, self.reg).softmax(-1)
        d = (prob * self.bins).sum(-1) * self.strides
        c = self.centres
        boxes = torch.stack([c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]], 1)
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, self.W)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, self.H)
        if self.multi:
            ai, ci = torch.nonzero(scores > self.thr, as_tuple=True)
            s = scores[ai, ci]
        else:
            s, ci = scores.max(1)
            ai = torch.nonzero(s > self.thr, as_tuple=True)[0]
            s, ci = s[ai], ci[ai]
        b = boxes[ai]
        keep = batched_nms(b, s, ci, self.iou)[: self.max_det]
        b, s, ci = b[keep], s[keep], ci[keep]
        sx, sy, ox, oy, w, h = tr
        b = (b - torch.tensor([ox, oy, ox, oy])) / torch.tensor([sx, sy, sx, sy])
        b[:, 0::2] = b[:, 0::2].clamp(0, w)
        b[:, 1::2] = b[:, 1::2].clamp(0, h)
        return b, s, ci

    def detect(self, paths):
        xs, trs = [], []
        for f in paths:
            x, tr = self.preprocess(cv2.imread(f, cv2.IMREAD_COLOR))
            xs.append(x)
            trs.append(tr)
        with torch.inference_mode():
            scores, dists = self.model(torch.stack(xs))
            return [self.postprocess(scores[i], dists[i], trs[i]) for i in range(len(paths))]


def run_video(pipe, a, load_s):
    def run(limit):
        cap = cv2.VideoCapture(a.video)
        if not cap.isOpened():
            sys.exit(f"bench_detect_python: {a.video}: cannot open this video")
        n = found = 0
        frames = []

        def flush():
            nonlocal found
            xs, trs = zip(*[pipe.preprocess(f) for f in frames])
            with torch.inference_mode():
                sc, di = pipe.model(torch.stack(xs))
                for i in range(len(frames)):
                    found += len(pipe.postprocess(sc[i], di[i], trs[i])[1])
            frames.clear()
        while limit < 0 or n < limit:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
            n += 1
            if len(frames) == a.batch:
                flush()
        if frames:
            flush()
        return n, found
    run(a.warmup * a.batch)
    t0, c0 = time.perf_counter(), time.process_time()
    n, found = run(-1)
    s, cpu = time.perf_counter() - t0, time.process_time() - c0
    r = {"impl": "python-opt" if a.optimize else "python", "mode": "video", "threads": a.threads, "batch": a.batch,
         "frames": n, "seconds": s, "fps": n / s, "cpu_ms_per_frame": 1e3 * cpu / n, "detections": found,
         "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load_s": load_s}
    if a.json:
        print(json.dumps(r))
    else:
        print(f"{r['impl']} video  threads {a.threads}  batch {a.batch}: {r['fps']:.2f} frames/s ({n} frames)")


def export_onnx(model, meta, out):
    p = meta["image"]
    x = torch.zeros(1, 3, p["height"], p["width"])
    torch.onnx.export(model, (x,), out, input_names=[meta["inputs"][0]["name"] if meta.get("inputs") else "images"],
                      output_names=["scores", "box_distributions"], opset_version=13,
                      dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}, "box_distributions": {0: "batch"}})
    with open(out + ".json", "w") as f:
        json.dump({"image": {"width": p["width"], "height": p["height"], "color": p.get("color", "bgr")}}, f)
    print(f"wrote {out} ({os.path.getsize(out)} bytes) and {out}.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="*")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--optimize", action="store_true")
    ap.add_argument("--export-onnx")
    ap.add_argument("--video", help="time every frame of this video (cv2.VideoCapture + detection in batches)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    t_load = time.perf_counter()
    model, extra = pack_model.load(a.model)
    meta = json.loads(extra["sense.json"])
    model = model.eval()
    if a.export_onnx:
        export_onnx(model, meta, a.export_onnx)
        return
    if a.optimize:
        try:
            model = torch.jit.optimize_for_inference(torch.jit.freeze(model))
        except Exception as e:  # sense, too, keeps the module as stored when optimisation fails
            print(f"bench_detect_python: --optimize failed, running as stored: {e}", file=sys.stderr)
    load_s = time.perf_counter() - t_load
    pipe = Pipeline(model, meta)
    if a.video:
        return run_video(pipe, a, load_s)
    files = gather(a.inputs)
    if not files:
        sys.exit("bench_detect_python: no images found")
    cursor = [0]

    def chunk(n):
        c = [files[(cursor[0] + i) % len(files)] for i in range(n)]
        cursor[0] += n
        return c

    for _ in range(a.warmup):
        pipe.detect(chunk(a.batch))
    images = found = 0
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    while True:
        for b, s, c in pipe.detect(chunk(a.batch)):
            images += 1
            found += len(s)
        e2e_s = time.perf_counter() - t0
        if e2e_s >= a.seconds:
            break
    e2e_cpu = time.process_time() - cpu0
    lat = []
    l0 = time.perf_counter()
    while len(lat) < 5 or time.perf_counter() - l0 < a.seconds / 4:
        c0 = time.perf_counter()
        pipe.detect(chunk(a.batch))
        lat.append(time.perf_counter() - c0)
    x = torch.stack([pipe.preprocess(cv2.imread(f, cv2.IMREAD_COLOR))[0] for f in chunk(a.batch)])
    m_images = 0
    m_cpu = 0.0
    m0 = time.perf_counter()
    with torch.inference_mode():
        while True:
            c0 = time.process_time()
            model(x)
            m_cpu += time.process_time() - c0
            m_images += a.batch
            m_s = time.perf_counter() - m0
            if m_s >= a.seconds / 2:
                break
    r = {"impl": "python-opt" if a.optimize else "python", "mode": "images", "threads": a.threads, "batch": a.batch,
         "images": images, "seconds": e2e_s, "e2e_ips": images / e2e_s, "e2e_cpu_ms_per_image": 1e3 * e2e_cpu / images,
         "model_ips": m_images / m_s, "model_cpu_ms_per_image": 1e3 * m_cpu / m_images,
         "latency_ms_median": 1e3 * statistics.median(lat),
         "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "load_s": load_s, "files": len(files),
         "detections_per_image": found / images}
    if a.json:
        print(json.dumps(r))
    else:
        print(f"{r['impl']}  threads {a.threads}  batch {a.batch}: {r['e2e_ips']:.2f} images/s end to end "
              f"({r['e2e_cpu_ms_per_image']:.1f} CPU ms per image; {r['detections_per_image']:.1f} detections per image)\n"
              f"  model alone {r['model_ips']:.2f} images/s; latency median {r['latency_ms_median']:.1f} ms; "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
