#!/usr/bin/python3
"""The default detector's C++ preprocessing (letterbox, sampling warp: NanoDet's
keep-ratio transform) gives the Python reference's input tensor
(scripts/nanodet_reference.py preprocess(..., "warp")) on real photos of
several sizes and aspects, to float rounding; and the bundle's metadata asks
for exactly that preprocessing (issue 13).

    detector_preprocess_test.py DETECTOR_DUMP BUNDLE IMAGE...

Exits 77 (ctest: skipped) with a message when no IMAGE exists (../shared absent).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import nanodet_reference as ref  # noqa: E402
import pack_model  # noqa: E402


def main():
    tool, bundle, images = sys.argv[1], sys.argv[2], [p for p in sys.argv[3:] if os.path.exists(p)]
    if not images:
        print(f"skipped: none of {sys.argv[3:]} exists (needs ../shared/data)")
        sys.exit(77)
    m = pack_model.read_metadata(bundle)
    im = m["image"]
    assert im["resize"] == "letterbox" and im.get("sampling") == "warp" and im["color"] == "bgr", im
    assert np.allclose(np.array(im["mean"]) * 255, ref.MEAN) and np.allclose(np.array(im["std"]) * 255, ref.STD), im
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.f32")
        for p in images:
            subprocess.run([tool, bundle, "--input-dump", out, p], check=True)
            got = np.fromfile(out, "<f4")
            want = ref.preprocess(ref.read_bgr(p), "warp")[0]
            assert got.size == want.size, (p, got.size, want.size)
            d = float(np.abs(got.reshape(want.shape) - want).max())
            print(f"{os.path.basename(p)}: max |C++ - Python| {d:.3g}")
            worst = max(worst, d)
    assert worst < 1e-5, worst
    print(json.dumps({"images": len(images), "max_abs_diff": worst}))
    print("all checks passed")


if __name__ == "__main__":
    main()
