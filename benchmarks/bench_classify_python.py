#!/usr/bin/python3
"""The Python pipeline sense is compared with: PIL + torchvision transforms + the same TorchScript bundle.

    /usr/bin/python3 benchmarks/bench_classify_python.py --model resnet18.pt --threads 1 --batch 16 \\
        [--seconds 8] [--optimize] [--json] IMAGE_OR_DIR...

--optimize applies to the loaded module the graph optimisation sense applies
at load (torch.jit.freeze, then torch.jit.optimize_for_inference: conv+BN
folding, prepacked MKL-DNN weights), so that sense is compared with Python
running the same graph; reported as impl "python-opt". Without it the module
runs as stored ("python").

Mirrors bench_classify (C++) for one (threads, batch) configuration:
Image.open + convert("RGB") -> Resize(resize_shorter) -> CenterCrop -> ToTensor
-> Normalize (all from the bundle's sense.json), torch.stack, model(x) under
torch.inference_mode(), softmax + top-5. Reports end-to-end images/s, the
stage shares (decode, preprocess, model, scoring), model-only images/s,
latency per chunk and the process's peak RSS. Warm-up chunks are not counted.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torchvision.transforms as T
from PIL import Image

EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pnm")


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


def percentile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--optimize", action="store_true", help="torch.jit.freeze + optimize_for_inference at load, as sense does")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    files = gather(a.inputs)
    if not files:
        sys.exit("bench_classify_python: no images found")

    t_load = time.perf_counter()
    extra = {"sense.json": ""}
    model = torch.jit.load(a.model, _extra_files=extra).eval()
    meta = json.loads(extra["sense.json"])
    if a.optimize:
        try:
            model = torch.jit.optimize_for_inference(torch.jit.freeze(model))
        except Exception as e:  # sense, too, keeps the module as stored when optimisation fails
            print(f"bench_classify_python: --optimize failed, running as stored: {e}", file=sys.stderr)
    load_s = time.perf_counter() - t_load
    p = meta["image"]
    if p.get("resize") != "center_crop" or p.get("color") != "rgb":
        sys.exit("bench_classify_python: expects a torchvision-style bundle (rgb, center_crop)")
    interp = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
              "nearest": T.InterpolationMode.NEAREST}[p.get("interpolation", "bilinear")]
    transform = T.Compose([
        T.Resize(p.get("resize_shorter", p["width"]), interpolation=interp),
        T.CenterCrop((p["height"], p["width"])),
        T.ToTensor(),
        T.Normalize(p["mean"], p["std"]),
    ])

    cursor = [0]

    def next_chunk():
        chunk = [files[(cursor[0] + i) % len(files)] for i in range(a.batch)]
        cursor[0] += a.batch
        return chunk

    def decode(chunk):
        return [Image.open(f).convert("RGB") for f in chunk]

    def preprocess(images):
        return torch.stack([transform(im) for im in images])

    def score(logits):
        return torch.softmax(logits, dim=1).topk(5, dim=1).indices[:, 0]

    def classify(chunk):
        with torch.inference_mode():
            return score(model(preprocess(decode(chunk))))

    t_warm = time.perf_counter()
    for _ in range(a.warmup):
        classify(next_chunk())
    warmup_s = time.perf_counter() - t_warm

    latencies, n_e2e, checksum = [], 0, 0
    t0 = time.perf_counter()
    cpu0 = time.process_time()  # all threads of the process; steadier than wall time on a busy machine
    while True:
        c0 = time.perf_counter()
        top = classify(next_chunk())
        c1 = time.perf_counter()
        latencies.append(c1 - c0)
        n_e2e += len(top)
        checksum += int(top[0])
        if c1 - t0 >= a.seconds:
            break
    e2e_s = c1 - t0
    e2e_cpu_s = time.process_time() - cpu0

    dec = pre = run = sc = pre_cpu = run_cpu = 0.0
    n_stage = 0
    s0 = time.perf_counter()
    with torch.inference_mode():
        while time.perf_counter() - s0 < a.seconds:
            t_a = time.perf_counter()
            images = decode(next_chunk())
            t_b = time.perf_counter()
            u_b = time.process_time()
            x = preprocess(images)
            t_c = time.perf_counter()
            u_c = time.process_time()
            logits = model(x)
            t_d = time.perf_counter()
            u_d = time.process_time()
            pre_cpu += u_c - u_b
            run_cpu += u_d - u_c
            checksum += int(score(logits)[0])
            t_e = time.perf_counter()
            dec += t_b - t_a
            pre += t_c - t_b
            run += t_d - t_c
            sc += t_e - t_d
            n_stage += len(images)
    total = dec + pre + run + sc
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    r = {"impl": "python-opt" if a.optimize else "python", "threads": a.threads, "batch": a.batch, "images": n_e2e, "seconds": round(e2e_s, 3),
         "e2e_ips": n_e2e / e2e_s, "model_ips": n_stage / run, "decode_share": dec / total,
         "preprocess_share": pre / total, "model_share": run / total, "score_share": sc / total,
         "stage_ips": n_stage / total, "latency_ms_median": percentile(latencies, 0.5) * 1e3,
         "latency_ms_p90": percentile(latencies, 0.9) * 1e3, "peak_rss_mib": rss, "load_s": load_s,
         "warmup_s": warmup_s, "files": len(files), "checksum": checksum,
         "e2e_cpu_ms_per_image": 1e3 * e2e_cpu_s / n_e2e, "model_cpu_ms_per_image": 1e3 * run_cpu / n_stage,
         "preprocess_cpu_ms_per_image": 1e3 * pre_cpu / n_stage,
         "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    if a.json:
        print(json.dumps(r))
    else:
        print(f"{r['impl']} threads {a.threads}  batch {a.batch:2d}: {r['e2e_ips']:7.2f} images/s end to end "
              f"({n_e2e} images in {e2e_s:.1f} s; {r['e2e_cpu_ms_per_image']:.1f} CPU ms per image)")
        print(f"  stages: decode {100 * dec / total:.1f}%, preprocess {100 * pre / total:.1f}%, model {100 * run / total:.1f}% "
              f"({r['model_ips']:.2f} images/s alone), scoring {100 * sc / total:.1f}%")
        print(f"  latency per {'image' if a.batch == 1 else 'batch'}: median {r['latency_ms_median']:.1f} ms, "
              f"p90 {r['latency_ms_p90']:.1f} ms; peak RSS {rss:.0f} MiB; load {load_s:.2f} s, warm-up {warmup_s:.2f} s")


if __name__ == "__main__":
    main()
