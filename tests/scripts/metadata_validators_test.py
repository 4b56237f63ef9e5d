#!/usr/bin/python3
"""The C++ loader is the one metadata validator: `sense-info --check` (sense::ParseMetadata)
and scripts/pack_model.py's validate() give the same verdict and the same message on every
case below, valid and invalid, including the four rules the script's own copy of the rules
had lost (temperature > 0, scale > 0, resize_shorter >= crop size, pad_value length).
A missing sense-info is a clear error, never a skipped check.

    metadata_validators_test.py SENSE_INFO [MODEL.pt]   # with a model: also pack_model.py's command line
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import pack_model  # noqa: E402

BASE = {
    "schema_version": 1, "task": "image_classification", "name": "m", "labels": ["red", "green", "blue"],
    "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 3, 32, 32]}],
    "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 3]}],
    "image": {"width": 32, "height": 32, "color": "rgb", "resize": "center_crop", "resize_shorter": 36,
              "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    "output": {"name": "logits", "type": "logits", "activation": "softmax"},
}
TEXT = {
    "schema_version": 1, "task": "text_classification", "name": "t", "labels": ["neg", "pos"],
    "inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, -1]}],
    "outputs": [{"name": "logits", "shape": [-1, 2]}],
    "text": {"tokenizer": {"type": "wordpiece", "asset": "vocab.txt"}}, "assets": ["vocab.txt"],
}


OOD = {"signals": [{"name": "energy", "loc": -2.0, "scale": 0.5}], "threshold": 1.5, "tpr": 0.95,
       "domain": "colour squares", "fitted_on": "train", "threshold_on": "val"}
OOD_MAHA = {**BASE, "outputs": BASE["outputs"] + [{"name": "features", "dtype": "float32", "shape": [-1, 4]}],
            "assets": ["stats.f32"],
            "ood": {**OOD, "signals": [{"name": "mahalanobis", "loc": 10, "scale": 3}], "features_output": "features",
                    "statistics_asset": "stats.f32", "feature_dim": 4}}


def with_(base, path, value):
    m = copy.deepcopy(base)
    cur = m
    keys = path.split(".")
    for k in keys[:-1]:
        cur = cur[int(k)] if isinstance(cur, list) else cur.setdefault(k, {})
    if value is DELETE:
        del cur[keys[-1]]
    elif isinstance(cur, list):
        cur[int(keys[-1])] = value
    else:
        cur[keys[-1]] = value
    return m


DELETE = object()

# (case, metadata, valid?)
CASES = [
    ("valid image classifier", BASE, True),
    ("valid text classifier", TEXT, True),
    ("output.temperature 0", with_(BASE, "output.temperature", 0), False),
    ("output.temperature -1", with_(BASE, "output.temperature", -1.0), False),
    ("output.temperature 1e-6", with_(BASE, "output.temperature", 1e-6), True),
    ("output.temperature 1e40 (beyond float)", with_(BASE, "output.temperature", 1e40), False),
    ("image.scale 0", with_(BASE, "image.scale", 0), False),
    ("image.scale -1", with_(BASE, "image.scale", -1), False),
    ("image.resize_shorter below the crop", with_(BASE, "image.resize_shorter", 20), False),
    ("image.resize_shorter equal to the crop", with_(BASE, "image.resize_shorter", 32), True),
    ("image.pad_value of 2 for rgb", with_(BASE, "image.pad_value", [0, 0]), False),
    ("image.pad_value of 3", with_(BASE, "image.pad_value", [0, 0, 0]), True),
    ("image.width 2^32+1", with_(BASE, "image.width", 2**32 + 1), False),
    ("image.width 16385", with_(BASE, "image.width", 16385), False),
    ("image.width 16384", with_(BASE, "image.width", 16384), True),
    ("image.width 0", with_(BASE, "image.width", 0), False),
    ("image.width a string", with_(BASE, "image.width", "32"), False),
    ("image.std 0", with_(BASE, "image.std", [0.25, 0, 0.25]), False),
    ("image.mean of 1 for rgb", with_(BASE, "image.mean", [0.5]), False),
    ("image without mean", with_(BASE, "image.mean", DELETE), False),
    ("image.color cmyk", with_(BASE, "image.color", "cmyk"), False),
    ("image.mean beyond float", with_(BASE, "image.mean", [0, 1e39, 0]), False),
    ("image task without image", with_(BASE, "image", DELETE), False),
    ("output.type probabilities + softmax", with_(BASE, "output", {"type": "probabilities", "activation": "softmax"}), False),
    ("output.type probabilities + temperature", with_(BASE, "output", {"type": "probabilities", "temperature": 2}), False),
    ("output.type probabilities", with_(BASE, "output", {"type": "probabilities"}), True),
    ("output.name not declared", with_(BASE, "output.name", "scores"), False),
    ("output.activation relu", with_(BASE, "output.activation", "relu"), False),
    ("inputs shape of 2^62 x 2^62", with_(BASE, "inputs.0.shape", [-1, 2**62, 2**62]), False),
    ("inputs shape 2^64-1 (wraps to -1)", with_(BASE, "inputs.0.shape", [2**64 - 1, 3, 32, 32]), False),
    ("inputs shape with 0", with_(BASE, "inputs.0.shape", [-1, 0]), False),
    ("inputs dtype float16", with_(BASE, "inputs.0.dtype", "float16"), False),
    ("duplicate input names", with_(BASE, "inputs", [{"name": "x"}, {"name": "x"}]), False),
    ("no inputs", with_(BASE, "inputs", []), False),
    ("labels vs declared classes", with_(BASE, "labels", ["a", "b"]), False),
    ("duplicate labels", with_(BASE, "labels", ["a", "a", "b"]), False),
    ("empty label", with_(BASE, "labels", ["a", "", "b"]), False),
    ("classifier without labels", with_(BASE, "labels", DELETE), False),
    ("schema_version 99", with_(BASE, "schema_version", 99), False),
    ("schema_version 2^32+1", with_(BASE, "schema_version", 2**32 + 1), False),
    ("unknown task", with_(BASE, "task", "image_colouring"), False),
    ("empty name", with_(BASE, "name", ""), False),
    ("no name", with_(BASE, "name", DELETE), False),
    ("weights_dtype float8", with_(BASE, "weights_dtype", "float8"), False),
    ("weights_dtype float16", with_(BASE, "weights_dtype", "float16"), True),
    ("explain.method shap", with_(BASE, "explain", {"method": "shap"}), False),
    ("text tokenizer asset not in assets", with_(TEXT, "assets", []), False),
    ("text.max_length 0", with_(TEXT, "text.max_length", 0), False),
    ("text.max_length 2^31", with_(TEXT, "text.max_length", 2**31), False),
    ("text.truncation middle", with_(TEXT, "text.truncation", "middle"), False),
    ("text task without text", with_(TEXT, "text", DELETE), False),
    ("embedding without dim", {**with_(BASE, "task", "image_embedding"), "embedding": {}}, False),
    ("detection without detection object", with_(BASE, "task", "object_detection"), False),
    ("top level is an array", [BASE], False),
    # out-of-domain detector ("ood", issue 16); the other ood rules are in tests/inference/metadata_test.cc
    ("ood with mahalanobis", OOD_MAHA, True),
    ("ood.tpr 1.5", with_(BASE, "ood", {**OOD, "tpr": 1.5}), False),
    ("ood unknown_share on an image model",
     with_(BASE, "ood", {**OOD, "signals": [{"name": "unknown_share", "loc": 0, "scale": 1}]}), False),
    ("ood mahalanobis without its asset listed", with_(OOD_MAHA, "assets", []), False),
]


def cxx_verdict(tool, metadata, tmp):
    path = os.path.join(tmp, "case.json")
    with open(path, "w") as f:
        json.dump(metadata, f)
    r = subprocess.run([tool, "--check", path], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"sense-info --check exited {r.returncode}: {r.stderr}")
    if r.returncode == 0:
        return True, ""
    line = [x for x in r.stderr.splitlines() if x.startswith("sense-info: ")][-1]
    return False, line[len("sense-info: "):].replace(path + ": ", "", 1)


def python_verdict(metadata):
    try:
        pack_model.validate(metadata)
        return True, ""
    except pack_model.MetadataError as e:
        return False, str(e)


def main():
    tool = sys.argv[1]
    os.environ["SENSE_INFO"] = tool
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, metadata, expected in CASES:
            cxx, py = cxx_verdict(tool, metadata, tmp), python_verdict(metadata)
            ok = cxx == py and cxx[0] == expected
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: C++ {'valid' if cxx[0] else 'invalid: ' + cxx[1]}"
                  + ("" if cxx == py else f" | pack_model: {'valid' if py[0] else 'invalid: ' + py[1]}")
                  + ("" if cxx[0] == expected else f" | expected {'valid' if expected else 'invalid'}"))
    # No validator: a clear error, not a silent pass.
    os.environ["SENSE_INFO"] = "/nonexistent/sense-info"
    try:
        pack_model.validate(BASE)
        print("FAIL a missing sense-info let the metadata through")
        failures += 1
    except pack_model.ValidatorNotFound as e:
        print(f"ok   missing sense-info: {e}")
    # --check reads a bundle's embedded metadata too, and a broken one fails with its message.
    if len(sys.argv) > 2:
        models = os.path.dirname(sys.argv[2])
        for bundle, valid, fragment in [(sys.argv[2], True, "valid sense metadata (image_classification"),
                                        (os.path.join(models, "wrong_type.pt"), False, "field 'image.width'")]:
            r = subprocess.run([tool, "--check", bundle], capture_output=True, text=True)
            ok = (r.returncode == 0) == valid and fragment in (r.stdout + r.stderr)
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} sense-info --check {os.path.basename(bundle)}: exit {r.returncode}, "
                  f"{(r.stdout + r.stderr).strip()}")
    # End to end: the script's command line refuses a bundle the loader would refuse, and writes nothing.
    if len(sys.argv) > 2:
        os.environ["SENSE_INFO"] = tool
        with tempfile.TemporaryDirectory() as tmp:
            bad, out = os.path.join(tmp, "bad.json"), os.path.join(tmp, "out.pt")
            with open(bad, "w") as f:
                json.dump(with_(BASE, "output.temperature", 0), f)
            script = os.path.join(os.path.dirname(pack_model.__file__), "pack_model.py")
            r = subprocess.run([sys.executable, script, sys.argv[2], "--metadata", bad, "--out", out],
                               capture_output=True, text=True)
            ok = r.returncode != 0 and f"{bad}: field 'output.temperature': must be > 0" in r.stderr and not os.path.exists(out)
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} pack_model.py refuses temperature 0: exit {r.returncode}, {r.stderr.strip()}")
    print(f"{len(CASES)} cases, {failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
