#!/usr/bin/python3
"""Make the default image-embedding model (models/fashion-embed.pt) from the
Fashion-MNIST classifier's features, and pack it as a sense bundle.

    /usr/bin/python3 scripts/train_fashion_embed.py [--classifier models/fashion-mnist.pt]

No new training: the embedding is read from the committed classifier
(scripts/train_fashion_mnist.py). Candidate embeddings --
  gap:        global average pool of the last conv feature map (128-d),
  logits:     the 10 class logits,
  probs:      the temperature-scaled class probabilities,
  gap+probs:  the L2-normalised pooled features concatenated with
              alpha x the probabilities, for several alpha --
are compared on the classifier's own validation split (the 5,000 training
images it held out, --split-seed 0 as in train_fashion_mnist.py): every
validation image queries the other 4,999 by cosine similarity, and the
candidate with the best precision@10 is kept. The test set (10,000 images,
each querying the other 9,999) is evaluated once, for the log; the figure
the model card reports is the C++ one from `sense-eval retrieval`.

The bundle: forward(x float32 [N,1,28,28], normalised as the classifier's)
-> embedding float32 [N, D]; "embedding": {"normalize": true}, so sense
L2-normalises and cosine similarity is a dot product.
"""

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import train_fashion_mnist as tf  # noqa: E402


class Embedder(nn.Module):
    def __init__(self, net, kind: str, alpha: float, temperature: float):
        super().__init__()
        self.net = net
        self.kind = kind
        self.alpha = alpha
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.net.features(x)
        g = f.mean(dim=(2, 3))
        if self.kind == "gap":
            return g
        logits = self.net.head(f)
        if self.kind == "logits":
            return logits
        p = torch.softmax(logits / self.temperature, dim=1)
        if self.kind == "probs":
            return p
        return torch.cat([F.normalize(g, dim=1), self.alpha * p], 1)


def retrieval_scores(emb, labels, k=10):
    """Each row queries all others by cosine: (precision@k, mAP)."""
    e = F.normalize(torch.as_tensor(emb, dtype=torch.float32), dim=1)
    y = torch.as_tensor(labels)
    n = e.shape[0]
    p_at_k, ap_sum = 0.0, 0.0
    for i in range(0, n, 500):
        s = e[i:i + 500] @ e.T
        rows = torch.arange(i, min(n, i + 500))
        s[torch.arange(len(rows)), rows] = -float("inf")
        order = s.argsort(dim=1, descending=True)[:, :n - 1]
        rel = (y[order] == y[rows][:, None]).float()
        p_at_k += rel[:, :k].sum().item() / k
        hits = rel.cumsum(1)
        prec = hits / torch.arange(1, n, dtype=torch.float32)
        ap_sum += ((prec * rel).sum(1) / rel.sum(1).clamp(min=1)).sum().item()
    return p_at_k / n, ap_sum / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", default=os.path.join(ROOT, "models", "fashion-mnist.pt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "fashion-embed.pt"))
    ap.add_argument("--log", default=None, help="log file (default: OUT with .train.log)")
    ap.add_argument("--data", default=tf.DATA_DIR)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--val-size", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logf = open(args.log or os.path.splitext(args.out)[0] + ".train.log", "w")

    def log(*a):
        msg = " ".join(str(x) for x in a)
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    cmd = "/usr/bin/python3 scripts/train_fashion_embed.py " + " ".join(sys.argv[1:])
    log(f"command: {cmd.strip()}")
    sys.path.insert(0, HERE)
    from pack_model import load, pack, read_metadata
    net, _ = load(args.classifier)
    net.eval()
    cmeta = read_metadata(args.classifier)
    mean, std = cmeta["image"]["mean"][0], cmeta["image"]["std"][0]
    temperature = float(cmeta["output"].get("temperature", 1.0))

    train_u8, train_y = tf.load_split(args.data, "train")
    perm = torch.randperm(train_u8.shape[0], generator=torch.Generator().manual_seed(args.split_seed))
    va = perm[:args.val_size]
    val_x, val_y = train_u8[va], train_y[va]

    def norm(u8):
        return ((u8.float() / 255.0) - mean) / std

    @torch.no_grad()
    def raw(u8):
        gs, ls = [], []
        for i in range(0, u8.shape[0], 500):
            f = net.features(norm(u8[i:i + 500]).unsqueeze(1))
            gs.append(f.mean(dim=(2, 3)))
            ls.append(net.head(f))
        return torch.cat(gs), torch.cat(ls)

    t0 = time.time()
    g, l = raw(val_x)
    cands = {"gap": g, "logits": l, "probs": torch.softmax(l / temperature, 1)}
    for alpha in (0.5, 1.0, 2.0, 4.0):
        cands[f"gap+probs:{alpha}"] = torch.cat([F.normalize(g, dim=1), alpha * torch.softmax(l / temperature, 1)], 1)
    best = None
    for name, e in cands.items():
        p10, m = retrieval_scores(e, val_y)
        log(f"validation ({args.val_size} images): {name:14s} P@10 {p10:.4f}  mAP {m:.4f}")
        if best is None or p10 > best[1]:
            best = (name, p10, m)
    name, vp10, vmap = best
    kind, _, alpha = name.partition(":")
    alpha = float(alpha) if alpha else 1.0
    log(f"chosen on validation: {name} ({time.time() - t0:.0f}s)")

    model = Embedder(net, kind, alpha, temperature)
    scripted = torch.jit.script(model)
    scripted.eval()
    test_u8, test_y = tf.load_split(args.data, "t10k")
    with torch.no_grad():
        test_e = torch.cat([scripted(norm(test_u8[i:i + 500]).unsqueeze(1)) for i in range(0, 10000, 500)])
    tp10, tmap = retrieval_scores(test_e, test_y)
    log(f"TEST (10,000 images, each querying the other 9,999; evaluated once): P@10 {tp10:.4f}  mAP {tmap:.4f}")
    dim = int(test_e.shape[1])
    meta = {
        "schema_version": 1, "task": "image_embedding", "name": "fashion-embed", "version": "1.0.0",
        "description": "Fashion-MNIST product embeddings for 'more like this': 28x28 grayscale, white garment "
                       "centred on a black background; cosine similarity.",
        "inputs": cmeta["inputs"],
        "outputs": [{"name": "embedding", "dtype": "float32", "shape": [-1, dim]}],
        "image": cmeta["image"],
        "output": {"name": "embedding", "type": "embeddings", "activation": "none"},
        "embedding": {"dim": dim, "normalize": True, "pooling": "none"},
        "provenance": {
            "training_data": "no training of its own: the features of models/fashion-mnist.pt (Fashion-MNIST train, "
                             "Zalando, MIT licence); the embedding form chosen on that model's 5,000-image "
                             "validation split",
            "script": "scripts/train_fashion_embed.py",
            "command": cmd.strip(),
            "created": datetime.date.today().isoformat(),
            "license": "MIT (data); model weights same as project",
            "framework": f"torch {torch.__version__}",
            "metrics": {"fashion_mnist_val_p_at_10": round(vp10, 4), "fashion_mnist_val_map": round(vmap, 4),
                        "fashion_mnist_test_p_at_10_python": round(tp10, 4),
                        "fashion_mnist_test_map_python": round(tmap, 4)},
            "notes": f"embedding '{name}' of the classifier ({dim}-d): " + {
                "gap": "global average pool of the last conv block",
                "logits": "class logits",
                "probs": f"class probabilities at temperature {temperature}",
                "gap+probs": f"L2-normalised pooled conv features + {alpha} x class probabilities "
                             f"(temperature {temperature})"}[kind],
        },
    }
    pack(scripted, meta, {}, args.out)
    loaded, _ = load(args.out)
    with torch.no_grad():
        x = norm(test_u8[:64]).unsqueeze(1)
        assert (loaded(x) - scripted(x)).abs().max().item() < 1e-5
    log(f"wrote {os.path.relpath(args.out, ROOT)} ({os.path.getsize(args.out):,} bytes)")


if __name__ == "__main__":
    main()
