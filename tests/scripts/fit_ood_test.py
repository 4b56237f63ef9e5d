#!/usr/bin/python3
"""scripts/fit_ood.py end to end on a small bundle made here (no ../shared):

  * it fits a Mahalanobis + energy detector on labelled images (a folder per
    class), picks the threshold on held-out images at the stated TPR, and
    writes metadata the C++ loader accepts;
  * the statistics it stores are the class means and the inverse of the
    shared covariance, checked against numpy;
  * sense-classify's out-of-domain scores for images equal the script's own
    scorer math on the same outputs (one scorer, two languages), and its flag
    is score > threshold;
  * wrong uses fail with a message: unknown_share on an image bundle,
    mahalanobis without a features output, no held-in data.

    fit_ood_test.py SENSE_INFO SENSE_CLASSIFY
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "..", "scripts")
sys.path.insert(0, SCRIPTS)
import fit_ood  # noqa: E402
import pack_model  # noqa: E402

LABELS = ["top", "left", "centre"]


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 6), nn.ReLU())
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor):
        f = self.body(x)
        return self.fc(f), f


class TinyLogitsOnly(nn.Module):
    def __init__(self, tiny):
        super().__init__()
        self.tiny = tiny

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tiny(x)[0]


def make_images(root, per_class, rng):
    for k, name in enumerate(LABELS):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            a = rng.integers(0, 60, (8, 8))
            if k == 0:
                a[:4, :] += 150
            elif k == 1:
                a[:, :4] += 150
            else:
                a[2:6, 2:6] += 150
            Image.fromarray(a.clip(0, 255).astype(np.uint8), "L").save(os.path.join(root, name, f"{i:03d}.png"))


def metadata(outputs):
    return {
        "schema_version": 1, "task": "image_classification", "name": "tiny-ood", "labels": LABELS,
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 1, 8, 8]}],
        "outputs": outputs,
        "image": {"width": 8, "height": 8, "color": "gray", "mean": [0.3], "std": [0.25]},
        "output": {"name": "logits", "type": "logits", "activation": "softmax", "temperature": 1.5},
    }


def run(cmd, expect_rc=0):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != expect_rc:
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {r.returncode} (expected {expect_rc}):\n{r.stdout}\n{r.stderr}")
    return r


def main():
    info, classify = sys.argv[1], sys.argv[2]
    os.environ["SENSE_INFO"] = info
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "train")
        make_images(data, 40, rng)
        tiny = Tiny().eval()
        bundle = os.path.join(tmp, "tiny.pt")
        pack_model.pack(torch.jit.script(tiny), metadata(
            [{"name": "logits", "shape": [-1, 3]}, {"name": "features", "shape": [-1, 6]}]), {}, bundle)
        out = os.path.join(tmp, "tiny-ood.pt")
        fit = [sys.executable, os.path.join(SCRIPTS, "fit_ood.py"), bundle, "--data", data, "--val-size", "30",
               "--signals", "mahalanobis,energy", "--tpr", "0.9", "--domain", "tiny grey squares", "--out", out]
        r = run(fit)
        report = json.loads(r.stdout[:r.stdout.rindex("}") + 1])
        # the threshold accepts at least 90 % of the 30 held-out images, and only just
        assert 0.9 <= report["validation_accepted"] <= 0.9 + 1 / 30 + 1e-9, report
        checks += 1

        module, extra = pack_model.load(out, ["ood_mahalanobis.f32"])
        meta = json.loads(extra["sense.json"])
        ood = meta["ood"]
        assert [s["name"] for s in ood["signals"]] == ["mahalanobis", "energy"], ood
        assert ood["tpr"] == 0.9 and ood["feature_dim"] == 6 and ood["features_output"] == "features"
        assert "ood_mahalanobis.f32" in meta["assets"] and ood["domain"] == "tiny grey squares"
        assert "30 items of train held out at random" in ood["threshold_on"], ood["threshold_on"]
        run([info, "--check", out])
        checks += 1

        # the statistics: numpy's class means and inverse shared covariance of the fit images' features
        images, labels = fit_ood.load_images(data, meta)
        fit_idx, val_idx = fit_ood.split(len(images), 30, 0)
        with torch.no_grad():
            _, feats = module(fit_ood.preprocess([images[i] for i in fit_idx], meta))
        feats, y = feats.numpy().astype(np.float64), labels[fit_idx]
        means = np.stack([feats[y == k].mean(0) for k in range(3)])
        cov = sum((feats[y == k] - means[k]).T @ (feats[y == k] - means[k]) for k in range(3)) / len(feats)
        stats = fit_ood.stats_from_bytes(extra["ood_mahalanobis.f32"], 3, 6)
        assert np.allclose(stats["means"], means, atol=1e-5), (stats["means"], means)
        ident = stats["precision"] @ (cov + 1e-6 * np.trace(cov) / 6 * np.eye(6))
        assert np.allclose(ident, np.eye(6), atol=1e-3), ident
        checks += 1

        # C++ (sense-classify) against the script's math, on in-domain images and on unlike ones
        probe = os.path.join(tmp, "probe")
        os.makedirs(probe)
        paths = []
        for i in range(6):
            a = rng.integers(0, 256, (8, 8)) if i % 2 else (np.indices((8, 8)).sum(0) % 2) * 255
            p = os.path.join(probe, f"odd_{i}.png")
            Image.fromarray(a.astype(np.uint8), "L").save(p)
            paths.append(p)
        paths += [os.path.join(data, LABELS[k], "000.png") for k in range(3)]
        r = run([classify, "-m", out, "--json", "-k", "1"] + paths)
        rows = [json.loads(line) for line in r.stdout.splitlines()]
        arrays = [np.asarray(Image.open(p)) for p in paths]
        with torch.no_grad():
            logits, feats = module(fit_ood.preprocess(arrays, meta))
        raw = fit_ood.raw_signals(["mahalanobis", "energy"], logits.numpy(), feats.numpy(), None, stats, 1.5)
        expected = fit_ood.combine(raw, ood["signals"])
        for row, e in zip(rows, expected):
            s = row["out_of_domain"]["score"]
            assert abs(s - e) <= 1e-3 * max(1.0, abs(e)), (row, e)
            assert row["out_of_domain"]["flag"] == (s > ood["threshold"]), row
        checks += 1
        # --reject-ood: flagged inputs are errors, the others keep their results
        flagged = [row["out_of_domain"]["flag"] for row in rows]
        r = run([classify, "-m", out, "--json", "--reject-ood"] + paths, expect_rc=1 if any(flagged) else 0)
        for row, f in zip([json.loads(line) for line in r.stdout.splitlines()], flagged):
            assert ("error" in row) == f and (f or row["categories"]), row
        checks += 1

        # wrong uses
        r = run(fit[:-2] + ["--signals", "unknown_share", "--out", out], expect_rc=2)
        assert "unknown_share is for text bundles" in r.stderr, r.stderr
        r = run([a for a in fit if a not in ("--val-size", "30")], expect_rc=2)
        assert "--val or --val-size" in r.stderr, r.stderr
        plain = os.path.join(tmp, "plain.pt")
        pack_model.pack(torch.jit.script(TinyLogitsOnly(tiny)), metadata([{"name": "logits", "shape": [-1, 3]}]), {}, plain)
        r = run([fit[0], fit[1], plain] + fit[3:], expect_rc=1)
        assert "needs a features output" in r.stderr, r.stderr
        r = run([fit[0], fit[1], plain, "--data", data, "--val-size", "30", "--signals", "max_logit", "--domain", "d",
                 "--out", os.path.join(tmp, "plain-ood.pt")])
        m2 = pack_model.read_metadata(os.path.join(tmp, "plain-ood.pt"))
        assert "statistics_asset" not in m2["ood"] and "assets" not in m2, m2
        checks += 1
    print(f"all {checks} checks passed")


if __name__ == "__main__":
    main()
