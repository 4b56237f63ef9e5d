#!/usr/bin/python3
"""Adds or replaces the sense metadata (sense.json) and assets of a TorchScript file.

A sense bundle is a TorchScript archive whose extra files hold `sense.json`
(docs/model-format.md) and the assets it lists (tokenizer model, vocabulary).
This script validates the metadata with the C++ loader itself (sense::ParseMetadata,
run as `sense-info --check`: set SENSE_INFO to the built sense-info, default
build/apps/sense-info), runs the model once on a dummy input shaped as the
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
import shutil
import subprocess
import sys


class MetadataError(ValueError):
    pass


class ValidatorNotFound(RuntimeError):
    """sense-info, which validates metadata, cannot be found or run."""


def _get(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur or cur[part] is None:
            return None
        cur = cur[part]
    return cur


def sense_info_path():
    """The sense-info that validates metadata: $SENSE_INFO, else build/apps/sense-info
    of this checkout, else sense-info on PATH. Raises ValidatorNotFound."""
    env = os.environ.get("SENSE_INFO")
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return env
        raise ValidatorNotFound(f"SENSE_INFO={env} is not an executable file; it should name a built sense-info")
    default = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "apps", "sense-info")
    if os.path.isfile(default) and os.access(default, os.X_OK):
        return default
    found = shutil.which("sense-info")
    if found:
        return found
    raise ValidatorNotFound(
        f"cannot validate metadata: sense-info was not found ($SENSE_INFO is unset, no {default}, none on PATH); "
        "build sense first (scripts/setup.sh) or set SENSE_INFO=/path/to/sense-info")


def validate(m):
    """Validates metadata with the C++ loader's own rules (sense::ParseMetadata,
    through `sense-info --check -`), so that a bundle this script writes is one
    the loader accepts. Raises MetadataError with the loader's message (naming
    the field, what was expected and what was found); ValidatorNotFound when
    sense-info is missing. Returns m."""
    try:
        text = json.dumps(m, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise MetadataError(f"metadata is not JSON: {e}") from None
    tool = sense_info_path()
    try:
        r = subprocess.run([tool, "--check", "-"], input=text.encode("utf-8"), capture_output=True, timeout=120)
    except OSError as e:
        raise ValidatorNotFound(f"cannot run {tool}: {e}") from None
    if r.returncode == 0:
        return m
    lines = [x for x in r.stderr.decode("utf-8", "replace").splitlines() if x.startswith("sense-info: ")]
    if r.returncode != 1 or not lines:
        raise ValidatorNotFound(f"{tool} --check failed (exit {r.returncode}): {r.stderr.decode('utf-8', 'replace').strip()}")
    message = lines[-1][len("sense-info: "):]
    if message.startswith("stdin: "):
        message = message[len("stdin: "):]
    raise MetadataError(message)


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


def _takes_image_list(module):
    """True for a scripted forward(images: List[Tensor]) (torchvision's detectors)."""
    schema = getattr(getattr(module, "forward", None), "schema", None)
    args = getattr(schema, "arguments", None)
    return bool(args) and len(args) >= 2 and str(args[1].type).startswith("List[")


def _detection_list(out):
    """torchvision's per-image detection dicts as the C++ backend flattens them
    (inference/src/torch_backend.cc): one [N, K, ...] tensor per key, zero-padded,
    then num_detections [N]; None for any other output."""
    import torch
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], dict):
        out = out[1]
    if not (isinstance(out, list) and out and all(isinstance(d, dict) for d in out)):
        return None
    flat = []
    for key in out[0]:
        parts = [d[key] for d in out]
        most = max(p.shape[0] for p in parts)
        t = torch.zeros([len(parts), most] + list(parts[0].shape[1:]), dtype=parts[0].dtype)
        for i, p in enumerate(parts):
            t[i, :p.shape[0]] = p
        flat.append(t)
    flat.append(torch.tensor([d[next(iter(out[0]))].shape[0] for d in out], dtype=torch.int64))
    return flat


def check_against_model(module, m):
    """Runs the model once on a dummy input and checks outputs and labels."""
    import torch
    args = _dummy_inputs(m, torch)
    if _takes_image_list(module) and len(args) == 1:
        args = [list(args[0].unbind(0))]
    with torch.no_grad():
        out = module(*args)
    flat = _detection_list(out)
    if flat is None:
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
    except ValidatorNotFound as e:
        sys.exit(f"pack_model.py: {e}")
    print(f"wrote {a.out or a.model}")


if __name__ == "__main__":
    main()
