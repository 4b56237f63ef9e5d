#!/usr/bin/python3
"""Re-exports a shipped classification bundle so that forward() also returns
its penultimate features, without retraining: same weights, same logits.

The out-of-domain detector (scripts/fit_ood.py, docs/model-format.md "ood")
measures how far an input's penultimate features lie from the training
classes. Computing them in the same forward pass as the logits costs nothing
extra at inference, so the re-exported forward returns (logits, features):

  * fashion-mnist: features = global average pools of the three conv
    blocks' outputs side by side, [N, 32 + 64 + 128] (the last 128 are
    exactly the vector head() feeds its linear layer; the earlier blocks see
    texture and noise that the last one pools away);
  * sentiment-sst2: features = each member's hidden MLP layer (ReLU output,
    the input of its output layer), members side by side, [N, 2 x 224].

The script checks that the new bundle's logits equal the old one's on real
inputs (max |diff| printed; it refuses to write above 1e-6), keeps every
other metadata field, the assets and the Grad-CAM / integrated-gradients
methods, and declares the second output. Then fit the detector with
scripts/fit_ood.py.

    /usr/bin/python3 scripts/export_features.py fashion-mnist models/fashion-mnist.pt --out /tmp/fm.pt
    /usr/bin/python3 scripts/export_features.py sentiment models/sentiment-sst2.pt --out /tmp/sst2.pt
"""
import argparse
import copy
import os
import sys
from typing import List, Tuple

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pack_model import load, pack  # noqa: E402


class FashionWithFeatures(nn.Module):
    """FashionNet (scripts/train_fashion_mnist.py) with the weights of the
    shipped bundle: forward -> (logits, features), features the global
    average pools of the three blocks' last ReLU maps side by side
    ([N, 32 + 64 + 128]); the last 128 are exactly what head() feeds its
    linear layer. features()/head() (Grad-CAM) are unchanged."""

    def __init__(self, scripted):
        super().__init__()
        from train_fashion_mnist import FashionNet
        net = FashionNet()
        sd = scripted.state_dict()
        net.load_state_dict(sd, strict=True)
        net.eval()
        body = list(net.body.children())
        if len(body) != 20:
            raise SystemExit(f"export_features.py: expected FashionNet's 20 body layers, found {len(body)}")
        self.block1 = nn.Sequential(*body[0:6])
        self.pool1 = body[6]
        self.block2 = nn.Sequential(*body[7:13])
        self.pool2 = body[13]
        self.block3 = nn.Sequential(*body[14:20])
        self.dropout = net.dropout
        self.fc = net.fc

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.block3(self.pool2(self.block2(self.pool1(self.block1(x)))))

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(f.mean(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        a = self.block1(x)
        b = self.block2(self.pool1(a))
        c = self.block3(self.pool2(b))
        pooled = torch.cat([a.mean(dim=(2, 3)), b.mean(dim=(2, 3)), c.mean(dim=(2, 3))], dim=1)
        return self.head(c), pooled


class SentimentWithFeatures(nn.Module):
    """The Ensemble of scripts/train_sentiment.py with the members' hidden
    layers as a second output. Weights copied from the shipped bundle."""

    def __init__(self, table, scale, encoders):
        super().__init__()
        self.register_buffer("table", table)
        self.register_buffer("scale", scale)
        self.encoders = nn.ModuleList(encoders)
        self.widths: List[int] = [e.width for e in encoders]

    @torch.jit.export
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table[ids].float() * self.scale[ids]

    @torch.jit.export
    def classify(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.classify_with_features(emb, mask)[0]

    @torch.jit.export
    def classify_with_features(self, emb: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out: List[torch.Tensor] = []
        feats: List[torch.Tensor] = []
        off = 0
        for enc in self.encoders:
            w = enc.width
            h = enc.hidden(emb[:, :, off:off + w], mask)
            feats.append(h)
            out.append(enc.out(h))
            off += w
        return torch.stack(out, dim=0).mean(dim=0), torch.cat(feats, dim=1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.classify_with_features(self.embed(ids), mask)


def rebuild_sentiment(scripted):
    from train_sentiment import Encoder
    sd = {k: v.float() if v.is_floating_point() else v for k, v in scripted.state_dict().items()}
    n = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("encoders."))
    encoders = []
    for i in range(n):
        p = f"encoders.{i}."
        own = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
        if any(k.startswith("convs.") for k in own) or "lstm.weight_ih_l1" in own:
            raise SystemExit("export_features.py: only single-layer members without a CNN branch are handled")
        hidden = own["lstm.weight_hh_l0"].shape[1]
        dim = own["lstm.weight_ih_l0"].shape[1]
        enc = Encoder(dim, hidden, 1, 0.0, 0.0, 0.0, 0)
        enc.load_state_dict(own, strict=True)
        enc.width = dim
        encoders.append(enc.eval())
    return SentimentWithFeatures(sd["table"], sd["scale"], encoders).eval()


def fashion_inputs():
    from train_fashion_mnist import load_split
    te, _ = load_split("/usr/share/datasets/fashion-mnist", "t10k")
    x = te[:2000].float().div(255.0).unsqueeze(1)
    return [((x - 0.285925) / 0.352914,)]


def sentiment_inputs(extra):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_proto=extra["tokenizer.model"])
    path = os.path.join(os.path.dirname(HERE), "..", "shared", "data", "sst2", "dev.tsv")
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[-1] in ("0", "1"):
                texts.append(parts[0])
    texts += ["", "x", "日本語の文です", "def f(x): return x * 2"]
    seqs = [sp.encode(t, out_type=int)[:128] for t in texts]
    batches = []
    for i in range(0, len(seqs), 64):
        chunk = seqs[i:i + 64]
        T = max(1, max(len(s) for s in chunk))
        ids = torch.full((len(chunk), T), 3, dtype=torch.long)
        mask = torch.zeros((len(chunk), T), dtype=torch.long)
        for r, s in enumerate(chunk):
            ids[r, :len(s)] = torch.tensor(s, dtype=torch.long)
            mask[r, :len(s)] = 1
        batches.append((ids, mask))
        batches.append((ids[:1, :max(1, len(chunk[0]))], mask[:1, :max(1, len(chunk[0]))]))  # dense path
    return batches


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["fashion-mnist", "sentiment"])
    ap.add_argument("bundle")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    extra_names = ["tokenizer.model"] if a.kind == "sentiment" else []
    old, extra = load(a.bundle, extra_names)
    import json
    meta = json.loads(extra["sense.json"])
    if len(meta["outputs"]) != 1:
        raise SystemExit(f"{a.bundle}: already has {len(meta['outputs'])} outputs")
    if a.kind == "fashion-mnist":
        new = torch.jit.script(FashionWithFeatures(old).eval())
        inputs, dim = fashion_inputs(), 32 + 64 + 128
    else:
        new = torch.jit.script(rebuild_sentiment(old))
        inputs = sentiment_inputs(extra)
        dim = sum(e.hidden_size for e in [m.lstm for m in rebuild_sentiment(old).encoders])
    worst = 0.0
    with torch.no_grad():
        for args in inputs:
            ref = old(*args)
            logits, feats = new(*args)
            worst = max(worst, (ref - logits).abs().max().item())
            assert feats.shape == (ref.shape[0], dim), feats.shape
    print(f"{a.bundle}: logits of the re-export vs the original: max |diff| {worst:.3g} over "
          f"{sum(x[0].shape[0] for x in inputs)} inputs")
    if worst > 1e-6:
        raise SystemExit("export_features.py: logits changed; not written")
    meta = copy.deepcopy(meta)
    meta["outputs"] = meta["outputs"] + [{"name": "features", "dtype": "float32", "shape": [-1, dim]}]
    meta.setdefault("output", {})["name"] = meta["outputs"][0]["name"]
    assets = {k: v for k, v in extra.items() if k != "sense.json"}
    if isinstance(next(iter(assets.values()), b""), str):
        assets = {k: v.encode("latin-1") if isinstance(v, str) else v for k, v in assets.items()}
    pack(new, meta, assets, a.out)
    # the written bundle, loaded as sense loads it, must give the same logits
    back, _ = load(a.out, extra_names)
    with torch.no_grad():
        worst2 = max((old(*args) - back(*args)[0]).abs().max().item() for args in inputs)
    print(f"wrote {a.out}: reloaded logits max |diff| {worst2:.3g}; outputs "
          f"{[o['name'] for o in meta['outputs']]}")
    if worst2 > 1e-6:
        raise SystemExit("export_features.py: the written bundle's logits differ")


if __name__ == "__main__":
    main()
