#!/usr/bin/python3
"""128-d SIFT descriptors with real structure, for the vector index benchmark.

OpenCV's SIFT on the shared photos (../shared/data/images and
../shared/data/coco-val-mini/images), each at several scales, mirrored, and as random crops
at random scales, until --n base vectors plus --queries held-out
query vectors are collected (queries come from images the base does not use,
so no query has an exact duplicate in the base). Written as float32 .npy:
OUT/base.npy [n, 128], OUT/queries.npy [q, 128]; each descriptor is as SIFT
gives it (non-negative, L2 norm ~512), the index L2-normalises for cosine.

    /usr/bin/python3 benchmarks/make_sift_vectors.py --n 100000 --out /tmp/sift100k
"""
import argparse
import glob
import os
import random

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cv2.setNumThreads(1)
    paths = sorted(glob.glob(os.path.join(SHARED, "images", "*.jpg")) + glob.glob(os.path.join(SHARED, "images", "*.png"))
                   + glob.glob(os.path.join(SHARED, "coco-val-mini", "images", "*.jpg")))
    random.Random(a.seed).shuffle(paths)
    query_paths, base_paths = paths[:4], paths[4:]
    sift = cv2.SIFT_create()

    def descriptors(path, want):
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if img is None:
            return []
        out = []
        # the photo at fixed scales, then random crops (60-100 % of each side)
        # at random scales, some mirrored: what a shop's product photos and
        # their crops give; crops shift SIFT's sampling grid, so their
        # descriptors are near, not exact, copies of the full photo's
        views = [(s, 1.0, 0.0, 0.0, m) for s in (1.0, 0.7, 0.5, 1.4) for m in (False, True)]
        vr = random.Random(path)
        views += [(vr.uniform(0.4, 2.2), vr.uniform(0.6, 1.0), vr.random(), vr.random(), vr.random() < 0.5) for _ in range(40)]
        h, w = img.shape
        for scale, frac, ox, oy, mirror in views:
            ch, cw = max(16, int(h * frac)), max(16, int(w * frac))
            y0, x0 = int((h - ch) * oy), int((w - cw) * ox)
            im = img[y0:y0 + ch, x0:x0 + cw]
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
            im = cv2.resize(im, None, fx=scale, fy=scale, interpolation=interp) if scale != 1.0 else im
            _, d = sift.detectAndCompute(cv2.flip(im, 1) if mirror else im, None)
            if d is not None:
                out.append(d)
            if sum(len(x) for x in out) >= want:
                return out
        return out

    q = np.concatenate([d for p in query_paths for d in descriptors(p, a.queries)])
    rng = np.random.default_rng(a.seed)
    q = q[rng.permutation(len(q))[:a.queries]]
    base, total = [], 0
    per_image = max(1000, a.n // len(base_paths) + 1)
    for rounds in range(3):
        for p in base_paths:
            base += descriptors(p, per_image * (rounds + 1))
            total = sum(len(x) for x in base)
            if total >= a.n:
                break
        if total >= a.n:
            break
        base = []  # not enough: more per image (more scales and views) next round
    if not base:
        raise SystemExit(f"fewer than {a.n} descriptors from {len(base_paths)} images at every scale and view; ask for fewer")
    b = np.unique(np.concatenate(base), axis=0)
    if len(b) < a.n:
        raise SystemExit(f"only {len(b)} distinct descriptors from {len(base_paths)} images; ask for fewer")
    b = b[rng.permutation(len(b))[:a.n]]
    os.makedirs(a.out, exist_ok=True)
    np.save(os.path.join(a.out, "base.npy"), b.astype(np.float32))
    np.save(os.path.join(a.out, "queries.npy"), q.astype(np.float32))
    print(f"wrote {a.out}/base.npy {b.shape} and queries.npy {q.shape} from {len(paths)} images")


if __name__ == "__main__":
    main()
