#!/usr/bin/python3
"""Reference input tensors from the Python pipeline that trains models
(PIL + torchvision transforms), for sense's preprocessing parity test.

For each case it writes <name>.f32 (raw float32, C x H x W) and an entry in
index.json with the equivalent sense.json `image` settings.

    /usr/bin/python3 scripts/make_parity_reference.py --images tests/data/images --out build/tests/parity
"""
import argparse
import json
import os

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode as IM

IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
INTERP = {"bilinear": IM.BILINEAR, "bicubic": IM.BICUBIC, "area": IM.BOX, "nearest": IM.NEAREST}


def case(name, image, resize, width, height, interpolation="bilinear", resize_shorter=0, color="rgb", norm=IMAGENET):
    return dict(name=name, image=image, resize=resize, width=width, height=height, interpolation=interpolation,
                resize_shorter=resize_shorter, color=color, mean=norm["mean"], std=norm["std"])


CASES = [case(f"{stem}_r256_c224", f, "center_crop", 224, 224, resize_shorter=256)
         for stem, f in [("butterfly", "butterfly.jpg"), ("home", "home.jpg"), ("messi5", "messi5.jpg"),
                         ("squirrel", "squirrel_cls.jpg"), ("left01_gray", "left01.jpg"),
                         ("butterfly_exif6", "butterfly_exif6.jpg"), ("butterfly_rgba", "butterfly_rgba.png"),
                         ("butterfly_16bit", "butterfly_16bit.png")]] + [
    case("messi5_bicubic_r80_c64", "messi5.jpg", "center_crop", 64, 64, "bicubic", 80),
    case("home_upscale_r600_c512", "home.jpg", "center_crop", 512, 512, "bilinear", 600),
    case("butterfly_stretch_56x40", "butterfly.jpg", "stretch", 56, 40),
    case("home_stretch_area_96x64", "home.jpg", "stretch", 96, 64, "area"),
    case("squirrel_gray_28", "squirrel_cls.jpg", "stretch", 28, 28, "area", color="gray",
         norm=dict(mean=[0.286], std=[0.353])),
]


def reference(c, images):
    img = Image.open(os.path.join(images, c["image"]))
    img = ImageOps.exif_transpose(img)  # sense honours EXIF orientation
    img = img.convert("L" if c["color"] == "gray" else "RGB")
    interp = INTERP[c["interpolation"]]
    if c["resize"] == "center_crop":
        ops = [T.Resize(c["resize_shorter"], interpolation=interp), T.CenterCrop((c["height"], c["width"]))]
    else:
        ops = [T.Resize((c["height"], c["width"]), interpolation=interp)]
    t = T.Compose(ops + [T.ToTensor(), T.Normalize(c["mean"], c["std"])])
    return t(img)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for c in CASES:
        x = reference(c, a.images).numpy().astype(np.float32)
        x.tofile(os.path.join(a.out, c["name"] + ".f32"))
        c["shape"] = list(x.shape)
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": CASES}, f, indent=1)
    print(f"{len(CASES)} parity references written to {a.out}")


if __name__ == "__main__":
    main()
