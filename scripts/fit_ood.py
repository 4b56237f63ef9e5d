#!/usr/bin/python3
"""Fits an out-of-domain detector for a classification bundle and writes it
into the bundle's metadata ("ood", docs/model-format.md).

The detector scores each input from the model's own outputs, computed in the
same forward pass as the classification:

  mahalanobis    min over classes of the Mahalanobis distance (squared) of the
                 penultimate features to the class means, one covariance
                 shared by all classes (Lee et al. 2018); needs a features
                 output (scripts/export_features.py adds one to the shipped
                 models); the means and the precision matrix are a bundle asset
  energy         -logsumexp(logits) (Liu et al. 2020)
  max_logit      -max(logits)
  max_softmax    -max(softmax(logits / temperature)) (Hendrycks & Gimpel 2017)
  unknown_share  share of the text's tokens that are the tokenizer's <unk> (text only)

Each signal is standardised with its mean and standard deviation on the fit
data, z = (raw - loc) / scale, and the score is the largest z of the chosen
signals (one signal: its z). Higher means less like the training data. The
threshold is the `--tpr` quantile (95 % by default) of the scores on held-in
validation data, so that share of in-domain inputs is accepted (score <=
threshold); an input above it is flagged.

Fit data (the training data the model learnt from) and validation data (held
out from it, never used for the statistics) come from one labelled set split
at random (--val-size, --split-seed; torch.randperm, as
scripts/train_fashion_mnist.py splits its training images), or from --val.
Formats: an IDX image file (.gz; labels from the matching labels-idx1 file), a
folder with one subfolder per class, or a text<TAB>label TSV (text bundles;
SentencePiece tokenizers).

    /usr/bin/python3 scripts/fit_ood.py BUNDLE.pt --data TRAIN [--val VAL | --val-size N] \\
        --signals mahalanobis[,unknown_share] --domain "what the model knows" --out OUT.pt

Importable: raw_signals(), combine(), fit() (the scorer math mirrored by
sense's C++ OodScorer, tested against it).
"""
import argparse
import datetime
import glob
import gzip
import json
import os
import shlex
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pack_model import MetadataError, ValidatorNotFound, load, pack  # noqa: E402

SIGNALS = ("mahalanobis", "energy", "max_logit", "max_softmax", "unknown_share")
STATS_ASSET = "ood_mahalanobis.f32"


# ----------------------------------------------------------------------------
# Scorer math (mirrors inference/src/ood.cc)


def mahalanobis(features, means, precision):
    """min_k (f - mu_k)^T P (f - mu_k) for each row of features [N, D]."""
    f = np.asarray(features, dtype=np.float64)
    d = []
    for mu in np.asarray(means, dtype=np.float64):
        x = f - mu
        d.append(np.einsum("nd,de,ne->n", x, precision, x))
    return np.min(np.stack(d, 1), axis=1)


def _logsumexp(x):
    m = x.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=1, keepdims=True)))[:, 0]


def raw_signals(names, logits=None, features=None, unknown_share=None, stats=None, temperature=1.0):
    """The raw value of each signal (higher = less in-domain), one array per name."""
    out = {}
    lg = None if logits is None else np.asarray(logits, dtype=np.float64)
    for n in names:
        if n == "mahalanobis":
            out[n] = mahalanobis(features, stats["means"], stats["precision"])
        elif n == "energy":
            out[n] = -_logsumexp(lg)
        elif n == "max_logit":
            out[n] = -lg.max(axis=1)
        elif n == "max_softmax":
            z = lg / temperature
            p = np.exp(z - _logsumexp(z)[:, None])
            out[n] = -p.max(axis=1)
        elif n == "unknown_share":
            out[n] = np.asarray(unknown_share, dtype=np.float64)
        else:
            raise ValueError(f"unknown signal {n!r}; expected one of {', '.join(SIGNALS)}")
    return out


def combine(raw, signals):
    """max over signals of (raw - loc) / scale; `signals` as in the metadata."""
    zs = [(raw[s["name"]] - s["loc"]) / s["scale"] for s in signals]
    return np.max(np.stack(zs, 1), axis=1)


def fit_mahalanobis(features, labels, num_classes):
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    d = f.shape[1]
    means = np.zeros((num_classes, d))
    cov = np.zeros((d, d))
    for k in range(num_classes):
        fk = f[y == k]
        if len(fk) == 0:
            raise SystemExit(f"fit_ood.py: class {k} has no fit examples; Mahalanobis needs every class")
        means[k] = fk.mean(axis=0)
        x = fk - means[k]
        cov += x.T @ x
    cov /= len(f)
    ridge = 1e-6 * np.trace(cov) / d  # keeps the inverse finite for features that never vary (dead ReLUs)
    precision = np.linalg.inv(cov + ridge * np.eye(d))
    precision = (precision + precision.T) / 2
    return {"means": means, "precision": precision}


def stats_bytes(stats):
    return (np.asarray(stats["means"], dtype="<f4").tobytes() + np.asarray(stats["precision"], dtype="<f4").tobytes())


def stats_from_bytes(data, num_classes, dim):
    a = np.frombuffer(data, dtype="<f4").astype(np.float64)
    return {"means": a[:num_classes * dim].reshape(num_classes, dim),
            "precision": a[num_classes * dim:].reshape(dim, dim)}


def fit(names, fit_out, val_out, labels, num_classes, tpr, temperature=1.0):
    """Fits the statistics on fit_out, standardises, picks the threshold on val_out.
    *_out: dicts with logits, features, unknown_share arrays. Returns (signals, threshold, stats)."""
    stats = fit_mahalanobis(fit_out["features"], labels, num_classes) if "mahalanobis" in names else None
    if stats is not None:  # the scorer runs on float32 statistics: fit the rest with what it will use
        stats = stats_from_bytes(stats_bytes(stats), num_classes, stats["means"].shape[1])
    raw_fit = raw_signals(names, fit_out.get("logits"), fit_out.get("features"), fit_out.get("unknown_share"),
                          stats, temperature)
    signals = []
    for n in names:
        v = raw_fit[n]
        scale = float(v.std())
        signals.append({"name": n, "loc": float(v.mean()), "scale": scale if scale > 1e-12 else 1.0})
    raw_val = raw_signals(names, val_out.get("logits"), val_out.get("features"), val_out.get("unknown_share"),
                          stats, temperature)
    score = combine(raw_val, signals)
    threshold = float(np.quantile(score, tpr, method="higher"))
    return signals, threshold, stats


# ----------------------------------------------------------------------------
# Data and model runs


def read_idx(path):
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    _, dtype, ndim = struct.unpack(">HBB", data[:4])
    if dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_images(path, meta):
    """(list of uint8 HxW or HxWxC arrays, labels)."""
    if os.path.isdir(path):
        from PIL import Image
        images, labels = [], []
        names = meta["labels"]
        norm = lambda s: "".join(c.lower() if c.isalnum() else " " for c in s)  # noqa: E731
        for d in sorted(e for e in os.listdir(path) if os.path.isdir(os.path.join(path, e))):
            k = next((i for i, n in enumerate(names) if n == d or norm(n) == norm(d)), None)
            if k is None:
                raise SystemExit(f"{path}/{d}: folder name matches no model label")
            for f in sorted(glob.glob(os.path.join(path, d, "*"))):
                img = Image.open(f)
                images.append(np.asarray(img.convert("L" if meta["image"]["color"] == "gray" else "RGB")))
                labels.append(k)
        return images, np.asarray(labels)
    at = path.find("images-idx3")
    if at < 0:
        raise SystemExit(f"{path}: expected an IDX images-idx3 file or a folder per class")
    lab = path[:at] + "labels-idx1" + path[at + len("images-idx3"):]
    return list(read_idx(path)), read_idx(lab).astype(np.int64)


def preprocess(images, meta):
    """A float batch as the bundle's metadata says (stretch or centre crop)."""
    import torch
    from PIL import Image
    im = meta["image"]
    w, h = im["width"], im["height"]
    resize = im.get("resize", "stretch")
    interp = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
              "area": Image.BOX}[im.get("interpolation", "bilinear")]
    out = []
    for a in images:
        if a.shape[:2] != (h, w):
            p = Image.fromarray(a)
            if resize == "stretch":
                p = p.resize((w, h), interp)
            elif resize == "center_crop":
                s = im.get("resize_shorter") or min(w, h)
                sc = s / min(p.size)
                p = p.resize((max(1, round(p.size[0] * sc)), max(1, round(p.size[1] * sc))), interp)
                l, t = (p.size[0] - w) // 2, (p.size[1] - h) // 2
                p = p.crop((l, t, l + w, t + h))
            else:
                raise SystemExit(f"fit_ood.py: image.resize {resize!r} is not supported here (stretch, center_crop)")
            a = np.asarray(p)
        x = a.astype(np.float32) * im.get("scale", 1 / 255)
        if x.ndim == 2:
            x = x[:, :, None]
        if im["color"] == "bgr":
            x = x[:, :, ::-1]
        x = (x - np.asarray(im["mean"], np.float32)) / np.asarray(im["std"], np.float32)
        out.append(x.transpose(2, 0, 1) if im.get("layout", "nchw") == "nchw" else x)
    return torch.from_numpy(np.ascontiguousarray(np.stack(out)))


def run_outputs(module, meta, batches, need_features):
    """Runs the model on each batch of positional inputs; returns logits, features [N, *]."""
    import torch
    names = [o["name"] for o in meta["outputs"]]
    logits_name = (meta.get("output") or {}).get("name", names[0])
    feat_name = (meta.get("ood") or {}).get("features_output") or ("features" if "features" in names else None)
    if need_features and feat_name not in names:
        raise SystemExit("fit_ood.py: the mahalanobis signal needs a features output (declared outputs: "
                         f"{', '.join(names)}); re-export the model with one (scripts/export_features.py) or "
                         "use energy / max_logit / max_softmax")
    logits, feats = [], []
    with torch.no_grad():
        for args in batches:
            out = module(*args)
            flat = list(out) if isinstance(out, (tuple, list)) else [out]
            logits.append(flat[names.index(logits_name)].float().numpy())
            if need_features:
                feats.append(flat[names.index(feat_name)].float().numpy())
    return {"logits": np.concatenate(logits), "features": np.concatenate(feats) if need_features else None}, feat_name


def image_outputs(module, meta, images, need_features, batch=500):
    batches = [(preprocess(images[i:i + batch], meta),) for i in range(0, len(images), batch)]
    return run_outputs(module, meta, batches, need_features)


def read_tsv(path, names=()):
    """text<TAB>label rows; the label is a class index or one of `names`."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            line = line.rstrip("\r\n")
            if not line or "\t" not in line:
                continue
            text, label = line.rsplit("\t", 1)
            if label in names:
                label = str(list(names).index(label))
            if not label.isdigit():
                if n == 0:
                    continue
                raise SystemExit(f"{path}:{n + 1}: label {label!r} is not a class index")
            texts.append(text)
            labels.append(int(label))
    return texts, np.asarray(labels)


def text_outputs(module, meta, extra, texts, need_features, batch=128):
    import torch
    tx = meta["text"]
    tk = tx["tokenizer"]
    if tk["type"] != "sentencepiece":
        raise SystemExit("fit_ood.py: text bundles with a SentencePiece tokenizer only (this one: " + tk["type"] + ")")
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_proto=extra[tk["asset"]])
    roles = tx.get("input_names") or {}
    order = [s["name"] for s in meta["inputs"]]
    if set(roles.get(r) for r in roles) - {None} != set(order) or set(roles) - {"ids", "mask"}:
        if not (len(order) == 1 and not roles):
            raise SystemExit("fit_ood.py: text bundles whose inputs are ids and mask only")
        roles = {"ids": order[0]}
    seqs, unk = [], []
    for t in texts:
        ids = sp.encode(t, out_type=int)
        unk.append(sum(i == sp.unk_id() for i in ids) / len(ids) if ids else 1.0)
        ids = ([sp.bos_id()] if tk.get("add_bos") else []) + ids + ([sp.eos_id()] if tk.get("add_eos") else [])
        seqs.append(ids[:tx.get("max_length", 512)])
    order_idx = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    pad = tx.get("pad_id", 0)
    batches, perm = [], []
    for b in range(0, len(order_idx), batch):
        idx = order_idx[b:b + batch]
        T = max(1, max(len(seqs[i]) for i in idx))
        ids = torch.full((len(idx), T), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), T), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, :len(seqs[i])] = torch.tensor(seqs[i], dtype=torch.long)
            mask[r, :len(seqs[i])] = 1
        named = {"ids": ids, "mask": mask}
        batches.append(tuple(named[next(r for r, n in roles.items() if n == name)] for name in order))
        perm += idx
    out, feat_name = run_outputs(module, meta, batches, need_features)
    inv = np.argsort(np.asarray(perm))
    out = {k: (v[inv] if v is not None else None) for k, v in out.items()}
    out["unknown_share"] = np.asarray(unk)
    return out, feat_name


def split(n, val_size, seed):
    import torch
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    return perm[val_size:], perm[:val_size]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("bundle")
    ap.add_argument("--data", required=True, help="in-domain labelled data the statistics are fitted on")
    ap.add_argument("--val", help="held-in validation data for the threshold (default: --val-size items of --data)")
    ap.add_argument("--val-size", type=int, default=0, help="hold out this many items of --data for the threshold")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the random fit/validation split")
    ap.add_argument("--val-min-words", type=int, default=0,
                    help="text: choose the threshold on validation texts of at least this many words only "
                         "(SST-2 train holds sub-sentence phrases; the model is for sentences)")
    ap.add_argument("--fit-limit", type=int, default=0, help="fit on at most this many items (0: all)")
    ap.add_argument("--signals", default="mahalanobis", help=f"comma-separated, from {', '.join(SIGNALS)}")
    ap.add_argument("--tpr", type=float, default=0.95, help="share of validation inputs to accept, in (0, 1]")
    ap.add_argument("--domain", required=True, help='what the model knows, for messages: "Fashion-MNIST, 28 x 28 grey clothing on black"')
    ap.add_argument("--fitted-on", help="description of the fit data (default: from --data)")
    ap.add_argument("--threshold-on", help="description of the validation data (default: from --val/--val-size)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    names = [s.strip() for s in a.signals.split(",") if s.strip()]
    for n in names:
        if n not in SIGNALS:
            ap.error(f"--signals: unknown signal {n!r}; expected one of {', '.join(SIGNALS)}")
    if len(set(names)) != len(names) or not names:
        ap.error("--signals: give each signal once")
    if not 0 < a.tpr <= 1:
        ap.error("--tpr must be in (0, 1]")
    if not a.val and a.val_size <= 0:
        ap.error("give --val or --val-size: the threshold is chosen on held-in data the statistics never saw")
    module, extra = load(a.bundle, [])
    meta = json.loads(extra["sense.json"])
    extra_names = [n for n in meta.get("assets", []) if n != STATS_ASSET]
    module, extra = load(a.bundle, extra_names)
    module.eval()
    task = meta["task"]
    if task not in ("image_classification", "text_classification"):
        raise SystemExit(f"{a.bundle}: is a {task} bundle; fit_ood.py handles image and text classification")
    if "unknown_share" in names and task != "text_classification":
        ap.error("--signals: unknown_share is for text bundles")
    need_f = "mahalanobis" in names
    k = len(meta["labels"])
    temperature = (meta.get("output") or {}).get("temperature", 1.0)

    def outputs(items):
        if task == "image_classification":
            return image_outputs(module, meta, items, need_f)
        return text_outputs(module, meta, extra, items, need_f)

    if task == "image_classification":
        items, labels = load_images(a.data, meta)
    else:
        items, labels = read_tsv(a.data, meta["labels"])
    if a.val:
        fit_idx = np.arange(len(items))
        val_items = load_images(a.val, meta)[0] if task == "image_classification" else read_tsv(a.val, meta["labels"])[0]
        val_desc = a.threshold_on or os.path.basename(a.val)
    else:
        fit_idx, val_idx = split(len(items), a.val_size, a.split_seed)
        val_items = [items[i] for i in val_idx]
        val_desc = a.threshold_on or (f"{a.val_size:,} items of {os.path.basename(a.data)} held out at random "
                                      f"(torch.randperm, seed {a.split_seed}), never used for the statistics")
    if a.val_min_words:
        if task != "text_classification":
            ap.error("--val-min-words is for text bundles")
        val_items = [t for t in val_items if len(t.split()) >= a.val_min_words]
        if not val_items:
            raise SystemExit(f"fit_ood.py: no validation text has {a.val_min_words} or more words")
        if not a.threshold_on:
            val_desc += f"; only its {len(val_items):,} texts of {a.val_min_words} or more words"
    if a.fit_limit:
        fit_idx = fit_idx[:a.fit_limit]
    fit_items = [items[i] for i in fit_idx]
    print(f"fitting on {len(fit_items):,} items, threshold on {len(val_items):,}", file=sys.stderr)
    fit_out, feat_name = outputs(fit_items)
    val_out, _ = outputs(val_items)
    signals, threshold, stats = fit(names, fit_out, val_out, labels[fit_idx], k, a.tpr, temperature)
    ood = {
        "signals": signals,
        "combine": "max",
        "threshold": threshold,
        "tpr": a.tpr,
        "domain": a.domain,
        "fitted_on": a.fitted_on or f"{len(fit_items):,} items of {os.path.basename(a.data)}",
        "threshold_on": val_desc,
        "script": "scripts/fit_ood.py",
        "command": "/usr/bin/python3 " + shlex.join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
        "created": datetime.date.today().isoformat(),
    }
    assets = {n: extra[n] for n in extra_names}
    names_out = list(extra_names)
    if stats is not None:
        ood["features_output"] = feat_name
        ood["statistics_asset"] = STATS_ASSET
        ood["feature_dim"] = int(stats["means"].shape[1])
        assets[STATS_ASSET] = stats_bytes(stats)
        names_out.append(STATS_ASSET)
    meta["ood"] = ood
    meta["assets"] = names_out
    if not names_out:
        meta.pop("assets", None)
    try:
        pack(module, meta, assets, a.out)
    except (MetadataError, ValidatorNotFound) as e:
        raise SystemExit(f"fit_ood.py: {e}")
    val_score = combine(raw_signals(names, val_out["logits"], val_out["features"], val_out.get("unknown_share"),
                                    stats, temperature), signals)
    print(json.dumps({"signals": signals, "threshold": threshold,
                      "validation_accepted": float((val_score <= threshold).mean())}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
