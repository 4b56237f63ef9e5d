#!/usr/bin/python3
"""The default embedding bundles driven from Python, as a user would without
sense: the same TorchScript files, SentencePiece from Python, one thread.
Prints sentences/s and images/s for the same inputs sense-eval sts /
retrieval embeds (benchmarks/run_embed_bench.sh runs both side by side).

Each model runs twice: "python-opt" with the graph optimisation sense applies
at load (torch.jit.freeze, then torch.jit.optimize_for_inference; sense-info
shows it under "graph"), the like-for-like peer; and "python" as stored.
Both under torch.inference_mode().

    /usr/bin/python3 benchmarks/bench_embed_python.py --pairs ../shared/data/stsb/sts-dev.csv --images 5000
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text-model", default=os.path.join(ROOT, "models", "text-embed.pt"))
    ap.add_argument("--image-model", default=os.path.join(ROOT, "models", "fashion-embed.pt"))
    ap.add_argument("--pairs", required=True, help="STS Benchmark file: both sentences of each pair are embedded")
    ap.add_argument("--images", type=int, default=5000, help="first N Fashion-MNIST test images")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--graph", choices=["optimized", "stored", "both"], default="both",
                    help="which graph to time; run_embed_bench.sh runs each in a fresh process, as sense-eval is "
                         "(in one process the second run finds oneDNN's kernels and the allocator warm)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for optimize in {"optimized": (True,), "stored": (False,), "both": (True, False)}[a.graph]:
        run(a, optimize)


def load(path, extra, optimize):
    model = torch.jit.load(path, _extra_files=extra).eval()
    if optimize:
        model = torch.jit.optimize_for_inference(torch.jit.freeze(model))
    return model


def run(a, optimize):
    impl = "python-opt" if optimize else "python"

    # text: tokenize, sort by length, batches of 32 (as sense's runner), forward, L2-normalise
    extra = {"sense.json": "", "tokenizer.model": ""}
    model = load(a.text_model, extra, optimize)
    meta = json.loads(extra["sense.json"])
    sp = spm.SentencePieceProcessor(model_proto=extra["tokenizer.model"])
    texts = []
    for line in open(a.pairs, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 7:
            texts += [f[5], f[6]]
    max_len = meta["text"]["max_length"]
    pad = meta["text"].get("pad_id", 0)
    t0 = time.perf_counter()
    with torch.inference_mode():
        enc = [s[:max_len] for s in sp.encode(texts, out_type=int)]
        order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
        out = [None] * len(enc)
        for b in range(0, len(order), 32):
            idx = order[b:b + 32]
            T = max(len(enc[i]) for i in idx)
            ids = torch.full((len(idx), T), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), T), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, :len(enc[i])] = torch.tensor(enc[i])
                mask[r, :len(enc[i])] = 1
            v = torch.nn.functional.normalize(model(ids, mask), dim=1)
            for r, i in enumerate(idx):
                out[i] = v[r]
    dt = time.perf_counter() - t0
    print(f"{impl} text: {len(texts)} sentences in {dt:.2f} s = {len(texts) / dt:.0f} sentences/s")

    # images: the IDX file decoded with numpy, normalised as the metadata says, batches of 16
    extra = {"sense.json": ""}
    model = load(a.image_model, extra, optimize)
    im = json.loads(extra["sense.json"])["image"]
    raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
    t0 = time.perf_counter()
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:a.images]
    with torch.inference_mode():
        vecs = []
        for b in range(0, len(x), 16):
            t = torch.from_numpy(x[b:b + 16].astype(np.float32) * im["scale"]).unsqueeze(1)
            t = (t - im["mean"][0]) / im["std"][0]
            vecs.append(torch.nn.functional.normalize(model(t), dim=1))
    dt = time.perf_counter() - t0
    print(f"{impl} images: {len(x)} images in {dt:.2f} s = {len(x) / dt:.0f} images/s")


if __name__ == "__main__":
    main()
