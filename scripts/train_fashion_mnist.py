#!/usr/bin/python3
"""Train the default Fashion-MNIST classifier and pack it as a sense model.

Run with the Debian interpreter that has torch (python3-torch 1.13):

    /usr/bin/python3 scripts/train_fashion_mnist.py

Data comes from the Debian package dataset-fashion-mnist (IDX gz files in
/usr/share/datasets/fashion-mnist/), parsed here with gzip + numpy; nothing is
downloaded. 5,000 training images are held out as a validation split (fixed
permutation, --split-seed); every choice (epochs, schedule, temperature) is made
on that split. The 10,000 test images are evaluated once, after training.

The saved TorchScript module (torch.jit.script, eval mode) follows the sense
image-classification contract:
  forward(x)  : float32 [N, 1, 28, 28], pixels scaled to [0, 1] then
                normalised (x - mean) / std with the training-set mean/std
                stored in the metadata -> logits [N, 10]
  features(x) : last conv feature map [N, C, 7, 7] (before global pooling)
  head(f)     : feature map -> logits; forward(x) == head(features(x))
Metadata travels inside the file as the TorchScript extra file "sense.json".

The defaults reproduce the committed models/fashion-mnist.pt.
"""

import argparse
import datetime
import gzip
import json
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DATA_DIR = "/usr/share/datasets/fashion-mnist"
IMAGE_SIZE = 28
PAD = 2  # random-crop padding in pixels


# ----------------------------------------------------------------------------
# Data


def read_idx(path):
    """Read a gzipped IDX file (ubyte data only) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file "
                         f"(magic 0x{zero:04x}, type 0x{dtype:02x})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, found {arr.size} bytes")
    return arr.reshape(dims)


def load_split(data_dir, kind):
    images = read_idx(os.path.join(data_dir, f"{kind}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{kind}-labels-idx1-ubyte.gz"))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(f"{kind}: images {images.shape} vs labels {labels.shape}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


class Augmenter:
    """Batch augmentation on normalised images x [B, 1, 28, 28].

    Random crop with PAD-pixel padding (pad value = normalised black), random
    horizontal flip, and random erasing (rectangle set to 0, the mean).
    """

    def __init__(self, black_value, erase_p, gen):
        self.black = black_value
        self.erase_p = erase_p
        self.gen = gen
        self.ar = torch.arange(IMAGE_SIZE)

    def __call__(self, x):
        b = x.shape[0]
        g = self.gen
        # random crop from the zero-padded (black) image
        xp = F.pad(x, (PAD, PAD, PAD, PAD), value=self.black)
        dy = torch.randint(0, 2 * PAD + 1, (b,), generator=g)
        dx = torch.randint(0, 2 * PAD + 1, (b,), generator=g)
        rows = (dy[:, None] + self.ar)[:, :, None]  # [B, 28, 1]
        cols = (dx[:, None] + self.ar)[:, None, :]  # [B, 1, 28]
        x = xp[torch.arange(b)[:, None, None], 0, rows, cols].unsqueeze(1)
        # horizontal flip (garments are roughly left/right symmetric)
        flip = torch.rand(b, generator=g) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        # random erasing: area 2%..20% of the image, aspect 0.3..3.3
        if self.erase_p > 0:
            area = IMAGE_SIZE * IMAGE_SIZE * (0.02 + 0.18 * torch.rand(b, generator=g))
            log_r = math.log(0.3) + (math.log(3.3) - math.log(0.3)) * torch.rand(b, generator=g)
            r = torch.exp(log_r)
            h = torch.sqrt(area * r).round().clamp(1, IMAGE_SIZE - 1).long()
            w = torch.sqrt(area / r).round().clamp(1, IMAGE_SIZE - 1).long()
            y0 = (torch.rand(b, generator=g) * (IMAGE_SIZE - h + 1)).long()
            x0 = (torch.rand(b, generator=g) * (IMAGE_SIZE - w + 1)).long()
            on = torch.rand(b, generator=g) < self.erase_p
            my = (self.ar[None] >= y0[:, None]) & (self.ar[None] < (y0 + h)[:, None])
            mx = (self.ar[None] >= x0[:, None]) & (self.ar[None] < (x0 + w)[:, None])
            m = my[:, :, None] & mx[:, None, :] & on[:, None, None]
            x = x.masked_fill(m.unsqueeze(1), 0.0)
        return x


# ----------------------------------------------------------------------------
# Model


def conv_bn(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class FashionNet(nn.Module):
    """VGG-style CNN: three blocks of two 3x3 conv+BN+ReLU, 28 -> 14 -> 7.

    features() ends at the 7x7 map of the third block; head() is global
    average pooling, dropout and one linear layer.
    """

    def __init__(self, widths=(32, 64, 128), dropout=0.2):
        super().__init__()
        w1, w2, w3 = widths
        self.body = nn.Sequential(
            *conv_bn(1, w1), *conv_bn(w1, w1), nn.MaxPool2d(2),
            *conv_bn(w1, w2), *conv_bn(w2, w2), nn.MaxPool2d(2),
            *conv_bn(w2, w3), *conv_bn(w3, w3))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(w3, len(LABELS))

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(f.mean(dim=(2, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# ----------------------------------------------------------------------------
# Evaluation and calibration


@torch.no_grad()
def predict_logits(model, x, batch=1000, memory_format=torch.contiguous_format):
    model.eval()
    out = []
    for i in range(0, x.shape[0], batch):
        out.append(model(x[i:i + batch].contiguous(memory_format=memory_format)))
    return torch.cat(out)


def top1(logits, y):
    return (logits.argmax(1) == y).float().mean().item()


def ece(logits, y, bins=15):
    p = logits.softmax(1)
    conf, pred = p.max(1)
    correct = (pred == y).float()
    edges = torch.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.float().mean().item() * abs(conf[m].mean().item() - correct[m].mean().item())
    return total


def fit_temperature(logits, y):
    """Temperature scaling (Guo et al. 2017): minimise NLL over log T."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.exp().item())


# ----------------------------------------------------------------------------
# Output helpers


class Log:
    def __init__(self, path):
        self.f = open(path, "w") if path else None

    def __call__(self, *args):
        line = " ".join(str(a) for a in args)
        print(line, flush=True)
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()


def write_png_gray(path, img):
    """Write an 8-bit grayscale PNG (no PIL needed)."""
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def slug(label):
    return label.lower().replace("/", "-").replace(" ", "-")


def export_samples(test_x, test_y, out_dir):
    """Export test images chosen by index only, never by model correctness:
    the first test image of each class, plus the second T-shirt/top and the
    second Shirt (the most often confused pair)."""
    os.makedirs(out_dir, exist_ok=True)
    ys = test_y.tolist()
    first = [ys.index(c) for c in range(len(LABELS))]
    second = [ys.index(c, first[c] + 1) for c in (0, 6)]
    chosen = sorted(first + second)
    names = []
    for idx in chosen:
        name = f"{idx:03d}_{slug(LABELS[ys[idx]])}.png"
        write_png_gray(os.path.join(out_dir, name), test_x[idx].numpy())
        names.append((idx, name, LABELS[ys[idx]]))
    rows = "\n".join(f"| {idx} | `{name}` | {label} |" for idx, name, label in names)
    with open(os.path.join(out_dir, "SOURCE.md"), "w") as f:
        f.write(f"""# Fashion-MNIST sample images

These {len(names)} images are taken unchanged (28x28, 8-bit grayscale, raw
orientation: white garment on a black background) from the Fashion-MNIST
**test set** (`t10k-images-idx3-ubyte.gz`), as installed by the Debian package
`dataset-fashion-mnist` in `/usr/share/datasets/fashion-mnist/`.

Fashion-MNIST is by Zalando Research (Han Xiao, Kashif Rasul, Roland Vollgraf,
"Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
Algorithms", arXiv:1708.07747), https://github.com/zalandoresearch/fashion-mnist,
released under the MIT licence, Copyright (c) 2017 Zalando SE.

Selection: the first test image of each of the 10 classes, plus the second
T-shirt/top and the second Shirt (the pair most often confused); chosen by
index only, not by whether the model classifies them correctly. The file
name is the test-set index followed by the true label. Written by
`scripts/train_fashion_mnist.py` (`export_samples`).

Licence of the images (MIT, as shipped in `/usr/share/doc/dataset-fashion-mnist/copyright`):

> Copyright (c) 2017 Zalando SE, https://tech.zalando.com
>
> Permission is hereby granted, free of charge, to any person obtaining a copy
> of this software and associated documentation files (the "Software"), to deal
> in the Software without restriction, including without limitation the rights
> to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
> copies of the Software, and to permit persons to whom the Software is
> furnished to do so, subject to the following conditions:
>
> The above copyright notice and this permission notice shall be included in
> all copies or substantial portions of the Software.
>
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
> IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
> FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
> AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
> LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
> OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
> SOFTWARE.

| test index | file | true label |
|---:|---|---|
{rows}
""")
    return names


# ----------------------------------------------------------------------------
# Main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=DATA_DIR)
    ap.add_argument("--out", default="models/fashion-mnist.pt")
    ap.add_argument("--log", default="models/fashion-mnist.train.log",
                    help="training log file ('' for none)")
    ap.add_argument("--samples-dir", default="models/samples/fashion-mnist",
                    help="where to export test-set sample PNGs ('' to skip)")
    ap.add_argument("--samples-only", action="store_true",
                    help="export the sample PNGs and exit")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1, help="OneCycle peak LR (SGD)")
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--erase-p", type=float, default=0.25, help="random-erasing probability")
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--widths", default="32,64,128", help="channels of the 3 conv blocks")
    ap.add_argument("--val-size", type=int, default=5000)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", type=int, default=1,
                    help="train in channels_last memory format (faster on CPU)")
    ap.add_argument("--full-train", action="store_true",
                    help="train on all 60,000 images (no validation; temperature "
                         "from --temperature)")
    ap.add_argument("--temperature", type=float, default=None,
                    help="with --full-train: temperature to store (default 1.0)")
    ap.add_argument("--no-test", action="store_true",
                    help="skip the test-set evaluation and do not save a model")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    log = Log(None if args.samples_only else args.log)
    command = "/usr/bin/python3 " + " ".join(
        [os.path.relpath(sys.argv[0]) if os.path.exists(sys.argv[0]) else sys.argv[0]] + sys.argv[1:])

    train_u8, train_y_all = load_split(args.data_dir, "train")
    test_u8, test_y = load_split(args.data_dir, "t10k")
    if args.samples_dir:
        names = export_samples(test_u8, test_y, args.samples_dir)
        log(f"samples: wrote {len(names)} PNGs to {args.samples_dir}")
    if args.samples_only:
        return

    log(f"command: {command}")
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"started {datetime.datetime.now().isoformat(timespec='seconds')}")

    perm = torch.randperm(train_u8.shape[0], generator=torch.Generator().manual_seed(args.split_seed))
    if args.full_train:
        tr_idx, va_idx = perm, perm[:0]
    else:
        tr_idx, va_idx = perm[args.val_size:], perm[:args.val_size]
    tr_f = train_u8[tr_idx].float().div_(255.0)
    mean = tr_f.mean().item()
    std = tr_f.std().item()
    log(f"train {len(tr_idx)} / val {len(va_idx)} / test {len(test_y)}; "
        f"mean {mean:.6f} std {std:.6f} (training split, pixels in [0,1])")

    def norm(u8):
        return ((u8.float() / 255.0 - mean) / std).unsqueeze(1)

    train_x = ((tr_f - mean) / std).unsqueeze(1)
    train_y = train_y_all[tr_idx]
    val_x, val_y = norm(train_u8[va_idx]), train_y_all[va_idx]
    del tr_f

    widths = tuple(int(w) for w in args.widths.split(","))
    model = FashionNet(widths, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model FashionNet widths {widths}, dropout {args.dropout}, {n_params} parameters")
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)

    steps_per_epoch = math.ceil(len(train_y) / args.batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                          nesterov=True, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.25, div_factor=25.0, final_div_factor=1e3)
    black = (0.0 - mean) / std
    gen = torch.Generator().manual_seed(args.seed)
    aug = Augmenter(black, args.erase_p, gen)
    log(f"SGD nesterov lr {args.lr} (OneCycle, pct_start 0.25), wd {args.weight_decay}, "
        f"batch {args.batch_size}, label smoothing {args.label_smoothing}, "
        f"crop pad {PAD} + hflip + erasing p {args.erase_p}, epochs {args.epochs}, "
        f"channels_last {bool(args.channels_last)}")

    t_start = time.time()
    val_acc = float("nan")
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        model.train()
        order = torch.randperm(len(train_y), generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for s in range(steps_per_epoch):
            idx = order[s * args.batch_size:(s + 1) * args.batch_size]
            xb = aug(train_x[idx]).contiguous(memory_format=fmt)
            yb = train_y[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(idx)
        t_train = time.time() - t0
        msg = (f"epoch {epoch:2d}/{args.epochs} lr {sched.get_last_lr()[0]:.4f} "
               f"train loss {loss_sum / seen:.4f} train acc {correct / seen:.4f}")
        if len(va_idx):
            vl = predict_logits(model, val_x, memory_format=fmt)
            val_acc = top1(vl, val_y)
            msg += f" | val loss {F.cross_entropy(vl, val_y).item():.4f} val acc {val_acc:.4f}"
        log(msg + f" | {t_train:.1f}s train, {time.time() - t0:.1f}s total, "
            f"elapsed {(time.time() - t_start) / 60:.1f} min")
    train_minutes = (time.time() - t_start) / 60
    log(f"training time {train_minutes:.1f} min ({args.epochs} epochs)")

    model = model.to(memory_format=torch.contiguous_format).eval()

    # Calibration on the validation split.
    if len(va_idx):
        vl = predict_logits(model, val_x)
        temperature = fit_temperature(vl, val_y)
        log(f"val top1 {top1(vl, val_y):.4f}; temperature {temperature:.4f}; "
            f"val NLL {F.cross_entropy(vl, val_y).item():.4f} -> "
            f"{F.cross_entropy(vl / temperature, val_y).item():.4f}; "
            f"val ECE {ece(vl, val_y):.4f} -> {ece(vl / temperature, val_y):.4f}")
    else:
        temperature = args.temperature if args.temperature is not None else 1.0
        log(f"full-train: no validation split; temperature {temperature} (given)")

    if args.no_test:
        log("--no-test: not evaluating the test set, not saving a model")
        return

    # Script, verify the exported methods, evaluate the test set once.
    scripted = torch.jit.script(model).eval()
    test_x = norm(test_u8)
    with torch.no_grad():
        xb = test_x[:256]
        ref = model(xb)
        out = scripted(xb)
        via = scripted.head(scripted.features(xb))
        feat = scripted.features(xb)
    d_script = (ref - out).abs().max().item()
    d_split = (out - via).abs().max().item()
    log(f"scripted vs eager max abs diff {d_script:.2e}; forward vs head(features) "
        f"{d_split:.2e}; features shape {list(feat.shape)}")
    if d_script > 1e-4 or d_split > 1e-5:
        raise SystemExit("scripted module does not match the eager model")

    test_logits = predict_logits(scripted, test_x)
    test_acc = top1(test_logits, test_y)
    log(f"TEST top1 {test_acc:.4f} (10,000 Fashion-MNIST test images, evaluated once); "
        f"test ECE {ece(test_logits, test_y):.4f} -> {ece(test_logits / temperature, test_y):.4f} "
        f"with T={temperature:.4f}")

    if args.full_train:
        data_text = ("Fashion-MNIST (Zalando, MIT licence) from Debian package "
                     "dataset-fashion-mnist: all 60,000 training images (the schedule was "
                     "chosen on a 55,000/5,000 train/validation split); 10,000 test images "
                     "used once for the reported test accuracy")
    else:
        data_text = (f"Fashion-MNIST (Zalando, MIT licence) from Debian package "
                     f"dataset-fashion-mnist: {len(tr_idx):,} train / {len(va_idx):,} "
                     f"validation (random split of the 60,000 training images, "
                     f"--split-seed {args.split_seed}); 10,000 test images used once "
                     f"for the reported test accuracy")
    metrics = {"fashion_mnist_test_top1_python": round(test_acc, 4)}
    if len(va_idx):
        metrics["fashion_mnist_val_top1"] = round(val_acc, 4)
    metadata = {
        "schema_version": 1,
        "task": "image_classification",
        "name": "fashion-mnist",
        "version": "1.0.0",
        "description": ("Fashion-MNIST clothing classifier: 28x28 grayscale, white "
                        "garment centred on a black background, 10 classes."),
        "labels": LABELS,
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 1, 28, 28]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 10]}],
        "image": {"width": 28, "height": 28, "color": "gray", "layout": "nchw",
                  "resize": "stretch", "interpolation": "area", "antialias": True,
                  "scale": 1.0 / 255.0, "mean": [round(mean, 6)], "std": [round(std, 6)]},
        "output": {"name": "logits", "type": "logits", "activation": "softmax",
                   "temperature": round(temperature, 4)},
        "explain": {"method": "gradcam", "features_method": "features", "head_method": "head"},
        "provenance": {
            "training_data": data_text,
            "script": "scripts/train_fashion_mnist.py",
            "command": command,
            "created": datetime.date.today().isoformat(),
            "license": "MIT (data); model weights same as project",
            "framework": f"torch {torch.__version__}",
            "metrics": metrics,
            "notes": (f"VGG-style CNN, 3 blocks of 2x(conv3x3+BN+ReLU), widths "
                      f"{'/'.join(map(str, widths))}, maxpool after blocks 1-2, global "
                      f"average pool, dropout {args.dropout}, linear; {n_params:,} parameters. "
                      f"SGD nesterov, OneCycle peak LR {args.lr}, wd {args.weight_decay}, "
                      f"batch {args.batch_size}, label smoothing {args.label_smoothing}, "
                      f"random crop (pad {PAD}) + hflip + random erasing p {args.erase_p}; "
                      f"{args.epochs} epochs, {train_minutes:.1f} min on "
                      f"{args.threads} CPU threads. Temperature fitted on the validation "
                      f"split by temperature scaling."
                      + (" Retrained on all 60,000 images (--full-train)." if args.full_train else "")),
        },
    }

    # Pack: use scripts/pack_model.py if it exists, else torch.jit.save.
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    packed_with = "torch.jit.save"
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        from pack_model import pack  # noqa: E402
    except ImportError:
        pack = None
    if pack is not None:
        pack(scripted, metadata, {}, args.out)
        packed_with = "scripts/pack_model.py"
    else:
        torch.jit.save(scripted, args.out,
                       _extra_files={"sense.json": json.dumps(metadata, indent=2)})

    # Reload the file and check it is the model we evaluated.
    extra = {"sense.json": ""}
    loaded = torch.jit.load(args.out, _extra_files=extra)
    meta_back = json.loads(extra["sense.json"])
    with torch.no_grad():
        d_load = (loaded(test_x[:256]) - test_logits[:256]).abs().max().item()
        d_load_split = (loaded.head(loaded.features(test_x[:256])) - test_logits[:256]).abs().max().item()
    if d_load > 1e-5 or d_load_split > 1e-5 or meta_back["labels"] != LABELS:
        raise SystemExit(f"reloaded model differs: {d_load}, {d_load_split}")
    log(f"saved {args.out} ({os.path.getsize(args.out):,} bytes) with {packed_with}; "
        f"reload max abs diff {d_load:.2e}")
    log("metadata: " + json.dumps(metadata))


if __name__ == "__main__":
    main()
