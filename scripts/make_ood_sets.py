#!/usr/bin/python3
"""Writes the generated out-of-domain evaluation sets (deterministic, seeded).

Text (committed under tests/data/ood/text/, one input per line):
  random.txt   random character strings (letters, digits, punctuation)
  emoji.txt    emoji-only lines
  numbers.txt  lists of numbers (integers, decimals, dates, phone-like)
The hand-written sets beside them (non_english.txt: 60 sentences in 24
languages; code.txt: 30 lines of code in 12 languages) are not generated.

Images (--images DIR, not committed: grey-scale PNGs, --per-kind of each):
  shapes_*   white outline or filled shapes (circles, boxes, triangles, lines) on black
  text_*     words rendered in white on black (DejaVu Sans)
  digit_*    single handwriting-like digits, thick strokes, centred (MNIST-like)
  noise_*    uniform, Gaussian and salt-and-pepper noise
  pattern_*  gradients, checkerboards, stripes

None of these is used to fit or choose anything: scripts/fit_ood.py fits and
picks its threshold on in-domain data only.

    /usr/bin/python3 scripts/make_ood_sets.py [--text tests/data/ood/text] [--images /tmp/ood-images]
"""
import argparse
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def text_sets(out_dir, n=100, seed=16):
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!?#$%&*+-/=<>@^_~.,;:"
    lines = []
    for _ in range(n):
        words = [''.join(rng.choice(alphabet) for _ in range(rng.randint(2, 10))) for _ in range(rng.randint(1, 8))]
        lines.append(" ".join(words))
    write(os.path.join(out_dir, "random.txt"), lines)
    emoji = [chr(c) for c in list(range(0x1F600, 0x1F64F)) + list(range(0x1F300, 0x1F3F0)) +
             list(range(0x1F680, 0x1F6C5)) + list(range(0x1F90C, 0x1F9FF))]
    lines = []
    for _ in range(n):
        k = rng.randint(1, 8)
        sep = rng.choice(["", " "])
        lines.append(sep.join(rng.choice(emoji) for _ in range(k)))
    write(os.path.join(out_dir, "emoji.txt"), lines)
    lines = []
    for _ in range(n):
        kind = rng.randrange(4)
        k = rng.randint(2, 12)
        if kind == 0:
            items = [str(rng.randint(0, 10 ** rng.randint(1, 6))) for _ in range(k)]
            lines.append(rng.choice([", ", " ", "; "]).join(items))
        elif kind == 1:
            lines.append(" ".join(f"{rng.uniform(-1000, 1000):.{rng.randint(1, 4)}f}" for _ in range(k)))
        elif kind == 2:
            lines.append(", ".join(f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                                   for _ in range(rng.randint(1, 5))))
        else:
            lines.append(" ".join(f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                                  for _ in range(rng.randint(1, 3))))
    write(os.path.join(out_dir, "numbers.txt"), lines)


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    print(f"wrote {os.path.relpath(path, ROOT) if path.startswith(ROOT) else path} ({len(lines)} lines)")


def image_sets(out_dir, per_kind=60, seed=16):
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    count = 0

    def save(img, name):
        nonlocal count
        img.save(os.path.join(out_dir, name + ".png"))
        count += 1

    for i in range(per_kind):  # shapes
        s = rng.choice([28, 56, 64])
        img = Image.new("L", (s, s), 0)
        d = ImageDraw.Draw(img)
        for _ in range(rng.randint(1, 3)):
            x0, y0 = rng.randint(0, s // 2), rng.randint(0, s // 2)
            x1, y1 = rng.randint(x0 + s // 6, s - 1), rng.randint(y0 + s // 6, s - 1)
            fill = rng.choice([None, rng.randint(120, 255)])
            width = rng.randint(1, max(1, s // 10))
            kind = rng.randrange(4)
            if kind == 0:
                d.ellipse([x0, y0, x1, y1], outline=rng.randint(150, 255), fill=fill, width=width)
            elif kind == 1:
                d.rectangle([x0, y0, x1, y1], outline=rng.randint(150, 255), fill=fill, width=width)
            elif kind == 2:
                d.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], outline=rng.randint(150, 255), fill=fill)
            else:
                d.line([x0, y0, x1, y1], fill=rng.randint(150, 255), width=width)
        save(img, f"shapes_{i:03d}")
    words = ["sense", "hello", "STOP", "42", "the cat", "OpenCV", "Monday", "exit", "#include", "x + y",
             "ABC", "photo", "2026", "quiet", "data", "lorem ipsum", "model", "boot", "shirt", "bag"]
    for i in range(per_kind):  # rendered text
        s = rng.choice([28, 64, 96])
        img = Image.new("L", (s, s), 0)
        d = ImageDraw.Draw(img)
        font = ImageFont.truetype(rng.choice([FONT, FONT_BOLD]), rng.randint(max(8, s // 6), max(10, s // 3)))
        text = rng.choice(words)
        d.text((rng.randint(0, s // 6), rng.randint(0, s // 2)), text, fill=rng.randint(160, 255), font=font)
        save(img, f"text_{i:03d}")
    for i in range(per_kind):  # MNIST-like digits
        img = Image.new("L", (84, 84), 0)
        d = ImageDraw.Draw(img)
        font = ImageFont.truetype(FONT_BOLD, rng.randint(56, 72))
        digit = str(i % 10)
        d.text((42 + rng.randint(-6, 6), 42 + rng.randint(-6, 6)), digit, fill=255, font=font, anchor="mm")
        img = img.rotate(rng.uniform(-15, 15), resample=Image.BILINEAR)
        save(img.resize((28, 28), Image.BOX), f"digit_{i:03d}")
    for i in range(per_kind):  # noise
        s = rng.choice([28, 64])
        kind = i % 3
        if kind == 0:
            a = nrng.integers(0, 256, (s, s))
        elif kind == 1:
            a = np.clip(nrng.normal(rng.uniform(40, 200), rng.uniform(10, 60), (s, s)), 0, 255)
        else:
            a = np.where(nrng.random((s, s)) < rng.uniform(0.02, 0.3), 255, 0)
        save(Image.fromarray(a.astype(np.uint8), "L"), f"noise_{i:03d}")
    for i in range(per_kind):  # patterns
        s = 64
        y, x = np.mgrid[0:s, 0:s]
        kind = i % 3
        if kind == 0:
            a = (x * np.cos(i) + y * np.sin(i))
            a = (a - a.min()) / max(1e-6, a.max() - a.min()) * 255
        elif kind == 1:
            c = rng.choice([4, 8, 16])
            a = (((x // c) + (y // c)) % 2) * 255
        else:
            c = rng.choice([3, 6, 10])
            a = ((x // c) % 2) * 255 if i % 2 else ((y // c) % 2) * 255
        save(Image.fromarray(a.astype(np.uint8), "L"), f"pattern_{i:03d}")
    print(f"wrote {count} images to {out_dir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", default=os.path.join(ROOT, "tests", "data", "ood", "text"),
                    help="folder for random.txt, emoji.txt, numbers.txt ('' to skip)")
    ap.add_argument("--images", default="", help="folder for the generated grey-scale images (skipped when empty)")
    ap.add_argument("--per-kind", type=int, default=60, help="images of each of the five kinds")
    a = ap.parse_args()
    if a.text:
        text_sets(a.text)
    if a.images:
        image_sets(a.images, a.per_kind)


if __name__ == "__main__":
    main()
