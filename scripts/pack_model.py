#!/usr/bin/python3
"""Adds or replaces the sense metadata (sense.json) and assets of a TorchScript file.

A sense bundle is a TorchScript archive whose extra files hold `sense.json`
(docs/model-format.md) and the assets it lists (tokenizer model, vocabulary).
This script validates the metadata against the same rules as the C++ loader
(sense::ParseMetadata), runs the model once on a dummy input shaped as the
metadata declares, checks outputs and label count, and writes the bundle.

    /usr/bin/python3 scripts/pack_model.py model.pt --metadata meta.json \
        [--asset tokenizer.model=path/to/sp.model ...] --out bundle.pt
    /usr/bin/python3 scripts/pack_model.py bundle.pt --show

Importable: pack(model, metadata, assets, out_path) and validate(metadata).
"""
import argparse
import io
import json
import os
import sys

SCHEMA_VERSION = 1
TASKS = ["image_classification", "object_detection", "image_embedding",
         "text_classification", "token_classification", "text_embedding"]
VISION = TASKS[:3]
NEEDS_LABELS = ["image_classification", "object_detection", "text_classification", "token_classification"]
DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool"]
ENUMS = {
    "image.color": ["rgb", "bgr", "gray"],
    "image.layout": ["nchw", "nhwc"],
    "image.resize": ["stretch", "center_crop", "letterbox"],
    "image.interpolation": ["nearest", "bilinear", "bicubic", "area"],
    "text.tokenizer.type": ["sentencepiece", "wordpiece"],
    "text.truncation": ["longest_first", "only_first", "window", "none"],
    "text.padding": ["longest", "max_length"],
    "output.type": ["logits", "probabilities", "embeddings", "detections", "token_logits"],
    "output.activation": ["softmax", "sigmoid", "none"],
    "detection.box_format": ["xyxy", "cxcywh", "xywh"],
    "detection.layout": ["boxes_scores_labels", "yolo", "gfl"],
    "embedding.pooling": ["none", "mean", "cls"],
    "token_classification.scheme": ["bio", "iob1", "bioes"],
    "explain.method": ["gradcam", "integrated_gradients", "occlusion"],
}


class MetadataError(ValueError):
    pass


def _get(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur or cur[part] is None:
            return None
        cur = cur[part]
    return cur


def validate(m):
    """Raises MetadataError naming the field, what was expected and what was found."""
    def fail(field, msg):
        raise MetadataError(f"field '{field}': {msg}")

    if not isinstance(m, dict):
        raise MetadataError(f"expected a JSON object, found {type(m).__name__}")
    v = m.get("schema_version")
    if not isinstance(v, int) or isinstance(v, bool):
        fail("schema_version", f"expected an integer, found {v!r}")
    if v != SCHEMA_VERSION:
        raise MetadataError(f"unsupported schema_version {v}; this version of sense reads version {SCHEMA_VERSION}")
    task = m.get("task")
    if task not in TASKS:
        fail("task", f"expected one of {TASKS}, found {task!r}")
    if not isinstance(m.get("name"), str) or not m["name"]:
        fail("name", f"expected a non-empty string, found {m.get('name')!r}")
    labels = m.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        fail("labels", "expected an array of non-empty strings")
    if len(set(labels)) != len(labels):
        fail("labels", "duplicate labels")
    if task in NEEDS_LABELS and not labels:
        raise MetadataError(f"task {task} needs a non-empty 'labels' array")
    for key in ("inputs", "outputs"):
        specs = m.get(key)
        if not isinstance(specs, list) or not specs:
            fail(key, "expected a non-empty array of {name, dtype, shape}")
        names = set()
        for i, s in enumerate(specs):
            p = f"{key}[{i}]"
            if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not s["name"]:
                fail(p + ".name", "expected a non-empty string")
            if s["name"] in names:
                fail(p + ".name", f"duplicate tensor name {s['name']!r}")
            names.add(s["name"])
            if s.get("dtype", "float32") not in DTYPES:
                fail(p + ".dtype", f"expected one of {DTYPES}, found {s.get('dtype')!r}")
            shape = s.get("shape", [])
            if not isinstance(shape, list) or any(not isinstance(d, int) or d == 0 or d < -1 for d in shape):
                fail(p + ".shape", f"expected positive integers or -1, found {shape!r}")
    for path, choices in ENUMS.items():
        val = _get(m, path)
        if val is not None and val not in choices:
            fail(path, f"expected one of {choices}, found {val!r}")
    image = m.get("image")
    if task in VISION and not isinstance(image, dict):
        raise MetadataError(f"task {task} needs an 'image' object")
    if isinstance(image, dict):
        for k in ("width", "height"):
            if not isinstance(image.get(k), int) or image[k] < 1:
                fail("image." + k, f"expected an integer >= 1, found {image.get(k)!r}")
        if image.get("color") is None:
            raise MetadataError("missing required field 'image.color'")
        c = 1 if image["color"] == "gray" else 3
        if "mean" not in image or "std" not in image:
            raise MetadataError("image models need 'image.mean' and 'image.std'")
        for k in ("mean", "std"):
            if not isinstance(image[k], list) or len(image[k]) != c:
                fail("image." + k, f"expected {c} values (one per channel), found {image[k]!r}")
        if any(not s > 0 for s in image["std"]):
            fail("image.std", "every value must be > 0")
    text = m.get("text")
    if task not in VISION and not isinstance(text, dict):
        raise MetadataError(f"task {task} needs a 'text' object")
    assets = m.get("assets", [])
    if isinstance(text, dict):
        tok = text.get("tokenizer")
        if not isinstance(tok, dict) or not isinstance(tok.get("asset"), str):
            fail("text.tokenizer", "expected an object with 'type' and 'asset'")
        if tok["asset"] not in assets:
            fail("text.tokenizer.asset", f"{tok['asset']!r} is not listed in 'assets'")
    if m.get("weights_dtype", "float32") not in ("float32", "float16"):
        fail("weights_dtype", f"expected 'float32' or 'float16', found {m['weights_dtype']!r}")
    out_names = [s["name"] for s in m["outputs"]]
    out_name = _get(m, "output.name") or out_names[0]
    if out_name not in out_names:
        fail("output.name", f"{out_name!r} is not one of the declared outputs")
    if task == "object_detection" and not isinstance(m.get("detection"), dict):
        raise MetadataError("task object_detection needs a 'detection' object")
    if _get(m, "detection.layout") == "gfl":
        _validate_gfl(m, fail)
    if task in ("image_embedding", "text_embedding"):
        if not isinstance(_get(m, "embedding.dim"), int) or m["embedding"]["dim"] < 1:
            fail("embedding.dim", "expected an integer >= 1")
    spec = next(s for s in m["outputs"] if s["name"] == out_name)
    if labels and task in ("image_classification", "text_classification", "token_classification") \
            and spec.get("shape") and spec["shape"][-1] > 0 and spec["shape"][-1] != len(labels):
        raise MetadataError(f"'labels' has {len(labels)} entries but output '{out_name}' declares {spec['shape'][-1]} classes")
    return m


# --- detection layout "gfl" (issue 13) ---------------------------------------
# Proposed: inference/src/metadata.cc does not know this layout yet, so a
# bundle that uses it is accepted here but refused by the C++ loader until the
# detection task adds the same rules there.
GFL_CENTRE_OFFSETS = (0.0, 0.5)


def _validate_gfl(m, fail):
    """Anchor-free grid with a distribution (GFL) box head, as NanoDet: one
    scores output [B, A, classes] and one distributions output
    [B, A, 4 * (reg_max + 1)], A = sum over strides of ceil(H/s) * ceil(W/s)."""
    g = _get(m, "detection.gfl")
    if not isinstance(g, dict):
        fail("detection.gfl", "layout 'gfl' needs a 'detection.gfl' object")
    names = {s["name"]: s for s in m["outputs"]}
    for k in ("scores_output", "distributions_output"):
        if g.get(k) not in names:
            fail("detection.gfl." + k, f"expected one of the declared outputs {list(names)}, found {g.get(k)!r}")
    strides = g.get("strides")
    if not isinstance(strides, list) or not strides or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in strides):
        fail("detection.gfl.strides", f"expected a non-empty array of positive integers, found {strides!r}")
    reg_max = g.get("reg_max")
    if not isinstance(reg_max, int) or isinstance(reg_max, bool) or reg_max < 1:
        fail("detection.gfl.reg_max", f"expected an integer >= 1, found {reg_max!r}")
    if g.get("centre_offset", 0.0) not in GFL_CENTRE_OFFSETS:
        fail("detection.gfl.centre_offset", f"expected one of {list(GFL_CENTRE_OFFSETS)}, found {g.get('centre_offset')!r}")
    if g.get("scores_activation", "none") not in ("none", "sigmoid"):
        fail("detection.gfl.scores_activation", f"expected 'none' or 'sigmoid', found {g.get('scores_activation')!r}")
    image = m.get("image") or {}
    anchors = sum(-(-image["height"] // s) * -(-image["width"] // s) for s in strides)
    sshape = names[g["scores_output"]].get("shape") or []
    dshape = names[g["distributions_output"]].get("shape") or []
    if sshape[-2:] != [anchors, len(m["labels"])]:
        fail("outputs", f"'{g['scores_output']}' must end in [{anchors}, {len(m['labels'])}] (anchors for strides "
                        f"{strides} on {image['width']}x{image['height']}, labels); found {sshape}")
    if dshape[-2:] != [anchors, 4 * (reg_max + 1)]:
        fail("outputs", f"'{g['distributions_output']}' must end in [{anchors}, {4 * (reg_max + 1)}] "
                        f"(anchors, 4 * (reg_max + 1)); found {dshape}")
    for k in ("multi_label", "class_agnostic_nms"):
        if not isinstance(_get(m, "detection." + k) if _get(m, "detection." + k) is not None else False, bool):
            fail("detection." + k, "expected true or false")
# --- end of the "gfl" layout --------------------------------------------------


def _dummy_inputs(m, torch):
    dt = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64,
          "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool}
    image = m.get("image")
    args = []
    for s in m["inputs"]:
        shape = list(s.get("shape") or [1])
        for i, d in enumerate(shape):
            if d == -1:
                shape[i] = 1 if i == 0 else 8
                if image and len(shape) == 4:
                    nchw = image.get("layout", "nchw") == "nchw"
                    c = 1 if image["color"] == "gray" else 3
                    if i == (2 if nchw else 1): shape[i] = image["height"]
                    if i == (3 if nchw else 2): shape[i] = image["width"]
                    if i == (1 if nchw else 3): shape[i] = c
        dtype = dt[s.get("dtype", "float32")]
        t = torch.ones(shape, dtype=dtype) if (dtype == torch.bool or "mask" in s["name"]) else torch.zeros(shape, dtype=dtype)
        args.append(t)
    return args


def _flatten(out):
    import torch
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten(o)]
    return []


def check_against_model(module, m):
    """Runs the model once on a dummy input and checks outputs and labels."""
    import torch
    with torch.no_grad():
        out = module(*_dummy_inputs(m, torch))
    flat = _flatten(out)
    if len(flat) != len(m["outputs"]):
        raise MetadataError(f"metadata declares {len(m['outputs'])} outputs, the model returned {len(flat)}")
    for spec, t in zip(m["outputs"], flat):
        shape = spec.get("shape") or []
        if shape and (len(shape) != t.dim() or any(d > 0 and d != s for d, s in zip(shape, t.shape))):
            raise MetadataError(f"output '{spec['name']}' declared {shape}, model returned {list(t.shape)}")
    name = _get(m, "output.name") or m["outputs"][0]["name"]
    t = flat[[s["name"] for s in m["outputs"]].index(name)]
    if m["task"] in ("image_classification", "text_classification", "token_classification") \
            and t.shape[-1] != len(m["labels"]):
        raise MetadataError(f"'labels' has {len(m['labels'])} entries but the model's output has {t.shape[-1]} classes")


def pack(model, metadata, assets=None, out_path=None, check=True):
    """Writes `model` (path or ScriptModule) with metadata and assets to out_path."""
    import torch
    assets = dict(assets or {})
    metadata = dict(metadata)
    names = list(metadata.get("assets", []))
    for k in assets:
        if k not in names:
            names.append(k)
    if names:
        metadata["assets"] = names
    validate(metadata)
    extra = {}
    if isinstance(model, (str, os.PathLike)):
        # keep existing extra files (assets) that are not replaced
        existing = {n: "" for n in names if n not in assets}
        module, found = load(model, existing)
        for k in existing:
            if found[k]:
                extra[k] = found[k]
    else:
        module = model
    for n in names:
        if n not in assets and n not in extra:
            raise MetadataError(f"'assets' lists {n!r} but no file was given for it (--asset {n}=PATH)")
    extra.update(assets)
    module.eval()
    if check:
        check_against_model(module, metadata)
    extra["sense.json"] = json.dumps(metadata, indent=2, ensure_ascii=False)
    if metadata.get("weights_dtype") == "float16":
        # store a half-precision copy (the loader converts back to float32); the
        # caller's module is left as it is
        buf = io.BytesIO()
        torch.jit.save(module, buf)
        buf.seek(0)
        module = torch.jit.load(buf).half()
    torch.jit.save(module, str(out_path), _extra_files=extra)
    return out_path


def load(path, extra_files=()):
    """torch.jit.load as sense loads a bundle: returns the module and the extra
    files named in `extra_files` (plus sense.json; "" when absent). A bundle
    whose metadata says its weights are stored in float16 comes back in
    float32, as the C++ loader runs it."""
    import torch
    extra = {n: "" for n in extra_files}
    extra.setdefault("sense.json", "")
    module = torch.jit.load(str(path), _extra_files=extra)
    meta = json.loads(extra["sense.json"]) if extra["sense.json"] else {}
    if meta.get("weights_dtype") == "float16":
        module = module.float()
    return module, extra


def read_metadata(path):
    import torch
    extra = {"sense.json": ""}
    torch.jit.load(path, _extra_files=extra)
    return json.loads(extra["sense.json"]) if extra["sense.json"] else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="TorchScript file (.pt)")
    ap.add_argument("--metadata", help="sense.json to embed")
    ap.add_argument("--asset", action="append", default=[], metavar="NAME=PATH", help="bundle a file as asset NAME")
    ap.add_argument("--out", help="output bundle (default: overwrite MODEL)")
    ap.add_argument("--show", action="store_true", help="print the embedded sense.json and exit")
    ap.add_argument("--no-check", action="store_true", help="skip the dummy forward pass")
    a = ap.parse_args()
    if a.show:
        m = read_metadata(a.model)
        if m is None:
            sys.exit(f"{a.model}: no sense.json metadata")
        print(json.dumps(m, indent=2, ensure_ascii=False))
        return
    if not a.metadata:
        ap.error("--metadata is required (or --show)")
    try:
        with open(a.metadata, encoding="utf-8") as f:
            metadata = json.load(f)
    except json.JSONDecodeError as e:
        sys.exit(f"{a.metadata}: malformed JSON: {e}")
    assets = {}
    for spec in a.asset:
        name, sep, path = spec.partition("=")
        if not sep:
            ap.error(f"--asset expects NAME=PATH, found {spec!r}")
        with open(path, "rb") as f:
            assets[name] = f.read()
    try:
        pack(a.model, metadata, assets, a.out or a.model, check=not a.no_check)
    except MetadataError as e:
        sys.exit(f"{a.metadata}: {e}")
    print(f"wrote {a.out or a.model}")


if __name__ == "__main__":
    main()
