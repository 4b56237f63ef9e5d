#!/usr/bin/python3
"""Exports a torchvision classification model as a sense bundle.

The bundle is a TorchScript module (torch.jit.script, falling back to
torch.jit.trace; provenance says which) in eval mode, carrying in sense.json
the ImageNet class names and the weights' exact preprocessing taken from
`weights.transforms()` (docs/model-format.md). For the resnet, resnext,
wide_resnet, mobilenet_v2/v3, efficientnet(_v2), convnext, regnet, densenet,
mnasnet, shufflenet_v2, squeezenet, vgg and alexnet families the module also
exports `features(x)` (last convolutional feature map, [N, C, H, W]) and
`head(f)` so that sense can explain predictions with Grad-CAM; other families
(vit, swin, maxvit, googlenet, inception) get no `explain` entry and sense
falls back to occlusion.

    /usr/bin/python3 scripts/export_torchvision.py --model resnet18 --out models/resnet18.pt
    /usr/bin/python3 scripts/export_torchvision.py --model mobilenet_v3_small --weights none \\
        --out build/mnv3s.pt --onnx build/mnv3s.onnx
    /usr/bin/python3 scripts/export_torchvision.py --list
    /usr/bin/python3 scripts/export_torchvision.py --model resnet18 --embedding --out models/resnet18-embed.pt

--weights DEFAULT (the default) or an enum name such as IMAGENET1K_V2
downloads the weights into the torch hub cache ($TORCH_HOME, ~/.cache/torch)
unless they are already there; --weights none builds the network with random
weights, offline, for tests and timing (the metadata says so). Class names
and preprocessing come from the weights' metadata, which ships inside
torchvision, so they are exact even with --weights none.

--optimize freezes the module (torch.jit.freeze) and runs
torch.jit.optimize_for_inference, keeping each step only if the optimised
module answers like the unoptimised one (max |diff| below --tolerance on
random and, when found, real images); otherwise it says so and refuses.

--onnx PATH also exports the plain network to ONNX (opset --opset, dynamic
batch) with the same metadata in the sidecar PATH.json, for the OpenCV DNN
backend and for ONNX Runtime.

Detectors (torchvision.models.detection: fasterrcnn_*, retinanet_*, fcos_*,
ssd300_vgg16, ssdlite320_mobilenet_v3_large, maskrcnn_*, keypointrcnn_*)
are exported as object_detection bundles, the detector scripted as it is
(torch.jit.script): its forward takes List[Tensor] and returns (losses,
[per-image dicts]), which sense's TorchScript backend turns into boxes,
labels, scores [N, K, ...] and num_detections (layout "torchvision",
docs/model-format.md). The model resizes and normalises inside, so the
bundle feeds it RGB in [0, 1], letterboxed (pad 0) to --size (default: the
model's own min_size, e.g. 320 for the *_320 models, 800 otherwise); boxes
come back in those pixels and sense maps them to the photo. Weights:

    # weights you have (a state dict saved with torch.save(model.state_dict(), PATH))
    /usr/bin/python3 scripts/export_torchvision.py --model fasterrcnn_mobilenet_v3_large_320_fpn \
        --state-dict fasterrcnn_mnv3_320.pth --out models/frcnn320.pt
    # random weights, offline, for tests and timing (the metadata says so)
    /usr/bin/python3 scripts/export_torchvision.py --model ssdlite320_mobilenet_v3_large --weights none --out x.pt

--weights DEFAULT downloads the COCO weights into the torch hub cache as for
classifiers (not reachable from every machine). Labels: the weights'
categories (COCO's 91 ids, "__background__" and the unused "N/A" ids kept
so that label ids index them, repeated names suffixed with their id).
--score-threshold / --iou-threshold / --max-detections set the bundle's
defaults; the model's own box_score_thresh / NMS run first (nms_applied).
"""
import argparse
import datetime
import glob
import io
import json
import os
import sys
import warnings

import torch
import torchvision
from torchvision import models

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pack_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REAL_IMAGES = os.path.join(HERE, "..", "..", "shared", "data", "images")

# ImageNet-1k has two pairs of repeated names; sense needs unique labels.
# WordNet glosses: n02012849 crane (bird), n03126707 crane (machine),
# n03710637 maillot, n03710721 maillot / tank suit.
IMAGENET_DISAMBIGUATION = {134: "crane (bird)", 517: "crane (machine)",
                           638: "maillot", 639: "maillot (tank suit)"}

INTERPOLATION = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic", "box": "area"}


# ---- Grad-CAM decompositions -------------------------------------------------
# Each wrapper holds the torchvision model unchanged as `m` and defines
# forward(x) = head(features(x)), with features = everything up to the last
# convolutional feature map and head = pooling + classifier, written exactly
# as the family's own forward. The export checks numerically that the
# wrapper's forward equals the original model's before packing.

class _Cam(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ResNetCam(_Cam):  # resnet*, resnext*, wide_resnet*
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        m = self.m
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        return m.layer4(m.layer3(m.layer2(m.layer1(x))))

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.m.fc(torch.flatten(self.m.avgpool(f), 1))


class FeaturesAvgpoolCam(_Cam):  # mobilenet_v3*, efficientnet*, vgg*, alexnet
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.m.features(x)

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.m.classifier(torch.flatten(self.m.avgpool(f), 1))


class ConvNeXtCam(_Cam):  # convnext*: the classifier holds LayerNorm2d + Flatten + Linear
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.m.features(x)

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.m.classifier(self.m.avgpool(f))


class MobileNetV2Cam(_Cam):
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.m.features(x)

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        f = torch.nn.functional.adaptive_avg_pool2d(f, (1, 1))
        return self.m.classifier(torch.flatten(f, 1))


class DenseNetCam(_Cam):  # the final ReLU belongs to the feature map
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.relu(self.m.features(x))

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        f = torch.nn.functional.adaptive_avg_pool2d(f, (1, 1))
        return self.m.classifier(torch.flatten(f, 1))


class RegNetCam(_Cam):
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.m.trunk_output(self.m.stem(x))

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.m.fc(self.m.avgpool(f).flatten(start_dim=1))


class MNASNetCam(_Cam):
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.m.layers(x)

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.m.classifier(f.mean([2, 3]))


class ShuffleNetV2Cam(_Cam):
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        m = self.m
        x = m.maxpool(m.conv1(x))
        return m.conv5(m.stage4(m.stage3(m.stage2(x))))

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.m.fc(f.mean([2, 3]))


class SqueezeNetCam(_Cam):
    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.m.features(x)

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.m.classifier(f), 1)


class LogitsOnly(torch.nn.Module):
    """googlenet and inception_v3 return a (logits, aux...) named tuple when
    scripted (a tensor in eager eval mode); sense wants the logits alone."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.m(x)
        if isinstance(out, torch.Tensor):  # resolved when scripting: only one branch is compiled
            return out
        return out.logits


CAM_FAMILIES = [  # (name prefix, wrapper), first match wins
    ("resnet", ResNetCam), ("resnext", ResNetCam), ("wide_resnet", ResNetCam),
    ("mobilenet_v2", MobileNetV2Cam), ("mobilenet_v3", FeaturesAvgpoolCam),
    ("efficientnet", FeaturesAvgpoolCam), ("vgg", FeaturesAvgpoolCam), ("alexnet", FeaturesAvgpoolCam),
    ("convnext", ConvNeXtCam), ("densenet", DenseNetCam), ("regnet", RegNetCam),
    ("mnasnet", MNASNetCam), ("shufflenet_v2", ShuffleNetV2Cam), ("squeezenet", SqueezeNetCam),
]


def cam_wrapper(name):
    for prefix, cls in CAM_FAMILIES:
        if name.startswith(prefix):
            return cls
    return None


# ---- helpers -------------------------------------------------------------------

def fail(msg, code=1):
    print(f"export_torchvision: {msg}", file=sys.stderr)
    sys.exit(code)


def note(msg):
    print(msg, file=sys.stderr)


def classifier_names():
    return sorted(models.list_models(module=models))


def resolve_weights(name, choice):
    """(weights enum used for metadata, weights to load or None)."""
    enum = models.get_model_weights(name)
    default = enum.DEFAULT
    if choice.lower() == "none":
        return default, None
    if choice.upper() == "DEFAULT":
        return default, default
    try:
        w = enum[choice]
    except KeyError:
        fail(f"--weights {choice!r}: {name} has weights {', '.join(['DEFAULT'] + [w.name for w in enum])} or none")
    return w, w


def preprocessing(weights):
    """The `image` metadata object from weights.transforms() (torchvision ImageClassification)."""
    t = weights.transforms()
    crop, resize = list(t.crop_size), list(t.resize_size)
    if len(crop) == 1:
        crop = crop * 2
    if len(resize) != 1:
        fail(f"{weights}: transforms resize to {resize} (height, width); sense's center_crop needs a shorter-side size")
    interp = INTERPOLATION.get(t.interpolation.value)
    if interp is None:
        fail(f"{weights}: interpolation {t.interpolation.value!r} has no sense equivalent")
    if resize[0] < min(crop):
        fail(f"{weights}: resize {resize[0]} is smaller than the crop {crop}")
    return {
        "width": int(crop[1]), "height": int(crop[0]), "color": "rgb", "layout": "nchw",
        "resize": "center_crop", "resize_shorter": int(resize[0]), "interpolation": interp,
        "antialias": True, "scale": 1.0 / 255.0,
        "mean": [float(v) for v in t.mean], "std": [float(v) for v in t.std],
    }


def labels_of(weights):
    cats = list(weights.meta["categories"])
    if len(cats) == 1000:
        for i, v in IMAGENET_DISAMBIGUATION.items():
            cats[i] = v
    seen = {}
    for c in cats:
        seen[c] = seen.get(c, 0) + 1
    return [f"{c} ({i})" if seen[c] > 1 else c for i, c in enumerate(cats)]


def build_model(name, weights_meta, weights):
    kwargs = {}
    if weights is None and name.startswith("vit_"):
        # e.g. vit_h_14's default (SWAG) weights run at 518 px; build the random model at that size
        kwargs["image_size"] = int(weights_meta.transforms().crop_size[0])
    if weights is None and name in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = True
    if weights is not None:
        try:
            model = models.get_model(name, weights=weights, **kwargs)
        except Exception as e:  # no network, no cached file
            fail(f"could not load weights {weights} for {name}: {type(e).__name__}: {e}\n"
                 f"  the weights are downloaded from {weights.url} into the torch hub cache "
                 f"({torch.hub.get_dir()}/checkpoints); copy the file there, or use --weights none for random weights")
    else:
        model = models.get_model(name, weights=None, **kwargs)
    return model.eval()


def real_inputs(image, n=4):
    """Up to n real photos preprocessed as the metadata says (PIL + torchvision), or []."""
    from PIL import Image
    import torchvision.transforms as T
    files = sorted(glob.glob(os.path.join(REAL_IMAGES, "*.jpg")))[:n]
    if not files:
        return []
    tf = T.Compose([T.Resize(image["resize_shorter"], interpolation=T.InterpolationMode(
                        {"area": "box"}.get(image["interpolation"], image["interpolation"]))),
                    T.CenterCrop((image["height"], image["width"])), T.ToTensor(),
                    T.Normalize(image["mean"], image["std"])])
    return [tf(Image.open(f).convert("RGB")).unsqueeze(0) for f in files]


def test_inputs(image, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (2, 3, image["height"], image["width"])
    rand = [torch.randn(shape, generator=g), torch.rand(shape, generator=g) * 4 - 2]
    return rand + real_inputs(image)


def max_diff(a, b):
    return float((a - b).abs().max())


def compare(ref_fn, fn, inputs, tol):
    """(ok, worst max |diff|): ok when every output differs from the reference by
    less than tol in absolute terms AND relative to the reference's largest
    value (a random network's logits can be ~1e-10, where 1e-4 means nothing)."""
    worst = 0.0
    ok = True
    with torch.no_grad():
        for x in inputs:
            r, y = ref_fn(x), fn(x)
            if r.shape != y.shape:
                return False, float("inf")
            d = max_diff(r, y)
            worst = max(worst, d)
            ok = ok and (d == 0 or (d < tol and d <= tol * float(r.abs().max())))
    return ok, worst


def output_scale(fn, inputs):
    with torch.no_grad():
        return max(float(fn(x).abs().max()) for x in inputs)


def to_script(module, example, methods):
    """(ScriptModule, how): torch.jit.script, else torch.jit.trace_module with the exported methods."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.script(module), "torch.jit.script"
    except Exception as e:
        note(f"note: torch.jit.script failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); tracing instead")
    inputs = {"forward": example}
    if methods:
        with torch.no_grad():
            inputs["features"] = example
            inputs["head"] = module.features(example)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.trace_module(module, inputs, check_trace=False), "torch.jit.trace"


def _round_trip(module):
    """The module as the C++ loader will see it: saved and loaded back."""
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    buf.seek(0)
    return torch.jit.load(buf)


def _head_gradient(module, f):
    with torch.enable_grad():
        f = f.detach().clone().requires_grad_(True)
        y = module.head(f)
        (g,) = torch.autograd.grad(y.max(dim=1).values.sum(), [f])
    return g


def optimize(scripted, methods, inputs, tol):
    """Freezes (+ optimize_for_inference) if, and only if, the saved-and-reloaded
    module answers like the unoptimised one (forward, features, head, and the
    gradient Grad-CAM takes through head). Returns (module, description) or exits."""
    preserved = list(methods)
    scale = output_scale(scripted, inputs)

    def check(make, what):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                candidate = _round_trip(make())
                ok, d = compare(scripted, candidate, inputs, tol)
                if ok and methods:
                    ok2, d2 = compare(scripted.features, candidate.features, inputs, tol)
                    with torch.no_grad():
                        feats = [scripted.features(x) for x in inputs]
                    ok3, d3 = compare(scripted.head, candidate.head, feats, tol)
                    ok4, d4 = compare(lambda f: _head_gradient(scripted, f), lambda f: _head_gradient(candidate, f),
                                      feats[:2], tol)
                    ok, d = ok and ok2 and ok3 and ok4, max(d, d2, d3, d4)
        except Exception as e:
            why = f"{what} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
            note("--optimize: " + why + " -> REJECTED")
            return None, why
        note(f"--optimize: {what}: max |diff| vs unoptimised = {d:.3g} (outputs up to {scale:.3g}) -> "
             f"{'kept' if ok else 'REJECTED'}")
        if ok:
            return candidate, f"{what} (max |diff| {d:.2g} vs unoptimised)"
        return None, f"{what} changes the answers (max |diff| {d:.3g}, outputs up to {scale:.3g})"

    rejected = []
    for what, make in [
        ("torch.jit.freeze + optimize_for_inference",
         lambda: torch.jit.optimize_for_inference(torch.jit.freeze(scripted.eval(), preserved_attrs=preserved),
                                                  other_methods=preserved or None)),
        ("torch.jit.freeze", lambda: torch.jit.freeze(scripted.eval(), preserved_attrs=preserved)),
    ]:
        module, why = check(make, what)
        if module is not None:
            return module, why + (f"; rejected: {'; '.join(rejected)}" if rejected else "")
        rejected.append(why)
    fail("--optimize refused: " + "; ".join(rejected) + ". Export without --optimize.", code=3)


def export_onnx(model, image, metadata, path, opset):
    x = torch.zeros(1, 3, image["height"], image["width"])
    in_name, out_name = metadata["inputs"][0]["name"], metadata["outputs"][0]["name"]
    # torch.onnx merges initializers with equal values (all-ones BatchNorm
    # weights of a random network, zero biases) into Identity nodes, which
    # OpenCV 4.6's ONNX importer rejects ("Identity ... inputs.size()").
    # Keep every initializer as its own tensor.
    dedup = getattr(torch._C, "_jit_pass_onnx_deduplicate_initializers", None)
    if dedup is not None:
        torch._C._jit_pass_onnx_deduplicate_initializers = lambda graph, params, training: params
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, x, path, opset_version=opset, input_names=[in_name], output_names=[out_name],
                              dynamic_axes={in_name: {0: "batch"}, out_name: {0: "batch"}}, do_constant_folding=True)
    finally:
        if dedup is not None:
            torch._C._jit_pass_onnx_deduplicate_initializers = dedup
    side = dict(metadata)
    side.pop("explain", None)  # ONNX graphs have no exported methods: sense uses occlusion
    side["provenance"] = dict(metadata["provenance"])
    side["provenance"]["framework"] = f"torch {torch.__version__} torch.onnx.export opset {opset}"
    side["provenance"]["notes"] = ("the same network as the TorchScript export, as ONNX; "
                                   + metadata["provenance"].get("notes", ""))
    pack_model.validate(side)
    with open(path + ".json", "w", encoding="utf-8") as f:
        json.dump(side, f, indent=2, ensure_ascii=False)
        f.write("\n")


# ---- detection models (issue 13) ----

def detector_names():
    return sorted(models.list_models(module=models.detection))


def export_detector(a):
    from torchvision.models import detection
    name = a.model
    enum = models.get_model_weights(name)
    meta_weights = enum.DEFAULT
    kwargs = {}
    if a.state_dict or a.weights.lower() == "none":
        kwargs = {"weights": None, "weights_backbone": None}
        model = models.get_model(name, num_classes=len(meta_weights.meta["categories"]), **kwargs)
        if a.state_dict:
            state = torch.load(a.state_dict, map_location="cpu")
            if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
                state = state["model"]  # torchvision's reference training checkpoints
            missing, unexpected = model.load_state_dict(state, strict=False)
            if missing or unexpected:
                fail(f"--state-dict {a.state_dict}: does not fit {name}: {len(missing)} missing keys "
                     f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        wname = "state-dict" if a.state_dict else "random-init"
    else:
        meta_weights, weights = resolve_weights(name, a.weights)
        model = build_model(name, meta_weights, weights)
        wname = weights.name
    model = model.eval()
    if a.score_threshold is not None and hasattr(model, "score_thresh"):
        model.score_thresh = min(model.score_thresh, a.score_threshold)
    transform = model.transform
    size = a.size or int(max(transform.min_size))
    labels = labels_of(meta_weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "... always returns a (Losses, Detections) tuple in scripting"
        scripted = torch.jit.script(model)
    scripted.eval()
    # the scripted detector answers as the eager one on a test image
    x = torch.rand(3, size, size, generator=torch.Generator().manual_seed(a.seed))
    with torch.no_grad():
        ref = model([x])[0]
        got = scripted([x])[1][0]
    for k in ("boxes", "scores", "labels"):
        if ref[k].shape != got[k].shape or (ref[k].numel() and float((ref[k].double() - got[k].double()).abs().max()) > 1e-4):
            fail(f"the scripted {name} answers differently from the eager model on '{k}'")
    random = wname == "random-init"
    extra_outputs = []
    if "keypoints" in ref:
        extra_outputs = [{"name": "keypoints", "dtype": "float32", "shape": [-1, -1, int(ref["keypoints"].shape[1]), 3]},
                         {"name": "keypoints_scores", "dtype": "float32", "shape": [-1, -1, int(ref["keypoints"].shape[1])]}]
    if "masks" in ref:
        extra_outputs.append({"name": "masks", "dtype": "float32", "shape": [-1, -1, 1, size, size]})
    detection_meta = {"layout": "torchvision", "box_format": "xyxy", "normalized": False, "nms_applied": True,
                      "score_threshold": a.score_threshold if a.score_threshold is not None else 0.5,
                      "iou_threshold": a.iou_threshold, "max_detections": a.max_detections}
    if "keypoints" in ref:
        detection_meta.update({"num_keypoints": int(ref["keypoints"].shape[1]), "keypoint_dims": 3, "keypoints_output": "keypoints"})
    command = "/usr/bin/python3 scripts/export_torchvision.py " + " ".join(sys.argv[1:])
    notes = ["torch.jit.script of the torchvision detector (forward takes List[Tensor]; sense passes the batch's rows)",
             f"the model's own transform: {str(transform).replace(chr(10), ' ')}",
             f"input letterboxed to {size} x {size} (pad 0), RGB in [0, 1]"]
    if random:
        notes.insert(0, f"RANDOM WEIGHTS (--weights none, seed {a.seed}): for tests and timing only, detections are meaningless")
    metadata = {
        "schema_version": 1, "task": "object_detection", "name": a.name or name, "version": wname,
        "description": (f"torchvision {name} with RANDOM weights, for tests and timing only" if random else
                        f"torchvision {name} ({wname}), COCO detector"),
        "labels": labels,
        "inputs": [{"name": "images", "dtype": "float32", "shape": [-1, 3, size, size]}],
        "outputs": [{"name": "boxes", "dtype": "float32", "shape": [-1, -1, 4]},
                    {"name": "scores", "dtype": "float32", "shape": [-1, -1]},
                    {"name": "labels", "dtype": "int64", "shape": [-1, -1]},
                    {"name": "num_detections", "dtype": "int64", "shape": [-1]}] + extra_outputs,
        "image": {"width": size, "height": size, "color": "rgb", "layout": "nchw", "resize": "letterbox",
                  "pad_value": [0, 0, 0], "interpolation": "bilinear", "antialias": False, "scale": 1.0 / 255.0,
                  "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "output": {"name": "boxes", "type": "detections", "activation": "none"},
        "detection": detection_meta,
        "provenance": {
            "training_data": "none (random initialisation)" if random else
                             ("COCO 2017 train (torchvision's weights)" if not a.state_dict else f"the state dict {os.path.basename(a.state_dict)}"),
            "script": "scripts/export_torchvision.py", "command": command,
            "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
            "license": "BSD-3-Clause (torchvision code)" + ("; random weights" if random else "; weights: see their source"),
            "framework": f"torch {torch.__version__}, torchvision {torchvision.__version__}, torch.jit.script",
            "notes": "; ".join(notes),
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    pack_model.pack(scripted, metadata, {}, a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB): {name}, {wname}, layout torchvision, "
          f"{len(labels)} labels, input {size} x {size}")



# ---- image-embedding bundles (--embedding; issue 15) ---------------------------
# Any torchvision classifier becomes an image_embedding bundle: its last
# nn.Linear (the ImageNet classifier) is replaced by nn.Identity, so the
# output is the pooled penultimate features the backbone already computes
# (resnet18: 512-d, mobilenet_v3_small: 1024-d, vit_b_16: 768-d). Families
# whose classifier is not a final Linear (squeezenet: a 1x1 conv) are refused.

def strip_classifier(model):
    """(model with its last nn.Linear replaced by Identity, dim of the features)."""
    last = None
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear):
            last = (name, mod)
    if last is None:
        return None, 0
    name, lin = last
    parent = model
    parts = name.split(".")
    for p in parts[:-1]:
        parent = getattr(parent, p)
    setattr(parent, parts[-1], torch.nn.Identity())
    return model, lin.in_features


def export_embedding(a):
    torch.manual_seed(a.seed)
    meta_weights, weights = resolve_weights(a.model, a.weights)
    model = build_model(a.model, meta_weights, weights)
    image = preprocessing(meta_weights)
    inputs = test_inputs(image)
    model, dim = strip_classifier(model)
    if model is None:
        fail(f"{a.model}: no final nn.Linear classifier to remove; --embedding supports families whose "
             "classifier is a Linear layer (resnet, mobilenet, efficientnet, convnext, regnet, vit, swin, ...)")
    module = (LogitsOnly(model).eval() if a.model in ("googlenet", "inception_v3") else model).eval()
    with torch.no_grad():
        out = module(inputs[0])
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[1] != dim:
        fail(f"{a.model}: expected features [N, {dim}] once the classifier is removed, got "
             f"{list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
    scripted, how = to_script(module, inputs[0], [])
    scripted.eval()
    ok, d = compare(module, scripted, inputs, a.tolerance)
    if not ok:
        fail(f"the {how} module does not reproduce the eager model (max |diff| {d:.3g})")
    random = weights is None
    wname = "random-init" if random else weights.name
    metadata = {
        "schema_version": 1, "task": "image_embedding", "name": a.name or f"{a.model}-embed", "version": wname,
        "description": (f"torchvision {a.model} with RANDOM weights (--weights none), for tests and timing only"
                        if random else f"torchvision {a.model}, {weights.name} weights: pooled penultimate "
                                       f"features ({dim}-d) as an image embedding"),
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 3, image["height"], image["width"]]}],
        "outputs": [{"name": "embedding", "dtype": "float32", "shape": [-1, dim]}],
        "image": image,
        "output": {"name": "embedding", "type": "embeddings", "activation": "none"},
        "embedding": {"dim": dim, "normalize": True, "pooling": "none"},
        "provenance": {
            "training_data": "none (random initialisation)" if random else "ImageNet-1k (ILSVRC 2012) training set",
            "script": "scripts/export_torchvision.py",
            "command": "/usr/bin/python3 scripts/export_torchvision.py " + " ".join(sys.argv[1:]),
            "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
            "license": "BSD-3-Clause (torchvision code)" + ("; random weights" if random else
                       "; weights pretrained on ImageNet-1k: check the ImageNet terms of access before commercial use"),
            "framework": f"torch {torch.__version__}, torchvision {torchvision.__version__}, {how}",
            "notes": f"the classifier's last Linear replaced by Identity; {how}; eval mode; preprocessing from "
                     f"{meta_weights}.transforms()",
        },
    }
    try:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        pack_model.pack(scripted, metadata, {}, a.out)
    except pack_model.MetadataError as e:
        fail(f"metadata: {e}")
    loaded = torch.jit.load(a.out)
    ok, d = compare(module, loaded, inputs[:2], a.tolerance)
    if not ok:
        fail(f"{a.out}: the saved module does not reproduce the model (max |diff| {d:.3g})")
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB; image_embedding, {dim}-d; {how})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="Models: " + ", ".join(classifier_names()))
    ap.add_argument("--model", help="torchvision.models classifier name, e.g. resnet18")
    ap.add_argument("--out", help="bundle to write (.pt)")
    ap.add_argument("--weights", default="DEFAULT", help="DEFAULT, a weights enum name (IMAGENET1K_V2 ...) or none (random, offline)")
    ap.add_argument("--name", help="bundle name in the metadata (default: the model name)")
    ap.add_argument("--optimize", action="store_true", help="freeze + optimize_for_inference, only if the answers stay the same")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max |diff| allowed by the numerical checks (default 1e-4)")
    ap.add_argument("--no-explain", action="store_true", help="do not add Grad-CAM methods")
    ap.add_argument("--onnx", metavar="PATH", help="also export ONNX to PATH, with the sidecar PATH.json")
    ap.add_argument("--opset", type=int, default=13, help="ONNX opset (default 13)")
    ap.add_argument("--seed", type=int, default=0, help="seed for --weights none")
    ap.add_argument("--list", action="store_true", help="list the classification models and exit")
    ap.add_argument("--state-dict", metavar="PATH", help="detectors: weights from this state dict (torch.save(model.state_dict()))")
    ap.add_argument("--size", type=int, help="detectors: square input size (default: the model's min_size)")
    ap.add_argument("--score-threshold", type=float, help="detectors: the bundle's default score threshold (default 0.5)")
    ap.add_argument("--iou-threshold", type=float, default=0.5, help="detectors: the bundle's default NMS IoU (default 0.5)")
    ap.add_argument("--max-detections", type=int, default=100, help="detectors: the bundle's default cap (default 100)")
    ap.add_argument("--embedding", action="store_true",
                    help="write an image_embedding bundle (pooled features, classifier removed) instead of a classifier")
    a = ap.parse_args()
    if a.model in detector_names():
        if not a.out or not a.out.endswith(".pt"):
            fail("detectors: --out BUNDLE.pt is required (no ONNX export for detectors)")
        return export_detector(a)
    if a.list:
        for n in classifier_names():
            has_cam = "gradcam" if cam_wrapper(n) else "occlusion"
            print(f"{n:22s} {models.get_model_weights(n).DEFAULT.name:28s} {has_cam}")
        return
    if not a.model or not (a.out or a.onnx):
        ap.error("--model and --out (or --onnx) are required")
    if a.model not in classifier_names():
        fail(f"--model {a.model!r} is not a torchvision classification or detection model; one of: "
             f"{', '.join(classifier_names())}; detectors: {', '.join(detector_names())}")
    if a.out and not a.out.endswith(".pt"):
        fail(f"--out {a.out!r}: a TorchScript bundle should end in .pt")

    if a.embedding:
        if not a.out or a.onnx:
            fail("--embedding writes a TorchScript bundle: give --out (ONNX is not supported for it)")
        return export_embedding(a)

    torch.manual_seed(a.seed)
    meta_weights, weights = resolve_weights(a.model, a.weights)
    model = build_model(a.model, meta_weights, weights)
    image = preprocessing(meta_weights)
    labels = labels_of(meta_weights)
    inputs = test_inputs(image)

    with torch.no_grad():
        out = model(inputs[0])
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[1] != len(labels):
        fail(f"{a.model}: expected logits [N, {len(labels)}], the model returned "
             f"{type(out).__name__} {list(out.shape) if isinstance(out, torch.Tensor) else ''}")

    module, methods = (LogitsOnly(model).eval() if a.model in ("googlenet", "inception_v3") else model), []
    wrapper_cls = None if a.no_explain else cam_wrapper(a.model)
    if wrapper_cls is not None:
        wrapped = wrapper_cls(model).eval()
        ok, d = compare(model, wrapped, inputs, a.tolerance)
        with torch.no_grad():
            f = wrapped.features(inputs[0])
        if ok and f.dim() == 4:
            module, methods = wrapped, ["features", "head"]
            note(f"Grad-CAM: features -> {list(f.shape[1:])}, forward == head(features(x)) (max |diff| {d:.2g})")
        else:
            note(f"warning: the {wrapper_cls.__name__} decomposition does not reproduce {a.model} "
                 f"(max |diff| {d:.3g}, features {list(f.shape)}); exporting without Grad-CAM (sense uses occlusion)")

    scripted, how = to_script(module, inputs[0], methods)
    scripted.eval()
    ok, d = compare(model, scripted, inputs, a.tolerance)
    if not ok:
        fail(f"the {how} module does not reproduce the eager model (max |diff| {d:.3g})")
    if methods:
        ok, d2 = compare(model, lambda x: scripted.head(scripted.features(x)), inputs, a.tolerance)
        if not ok:
            fail(f"scripted head(features(x)) differs from forward(x) (max |diff| {d2:.3g})")
    optimisation = "none"
    if a.optimize:
        scripted, optimisation = optimize(scripted, methods, inputs, a.tolerance)

    random = weights is None
    wname = "random-init" if random else weights.name
    acc = meta_weights.meta.get("_metrics", {}).get("ImageNet-1K", {})
    command = "/usr/bin/python3 scripts/export_torchvision.py " + " ".join(sys.argv[1:])
    notes = [f"{how}", f"eval mode", f"optimisation: {optimisation}",
             f"preprocessing from {meta_weights}.transforms()"]
    if random:
        notes.insert(0, f"RANDOM WEIGHTS (--weights none, seed {a.seed}): for tests and timing only, predictions are meaningless; "
                        f"labels and preprocessing are those of {meta_weights}")
    if not methods:
        notes.append("no Grad-CAM methods for this family: sense explains with occlusion")
    metadata = {
        "schema_version": 1,
        "task": "image_classification",
        "name": a.name or a.model,
        "version": wname,
        "description": (f"torchvision {a.model} with RANDOM weights (--weights none), for tests and timing only"
                        if random else f"torchvision {a.model}, {weights.name} weights, ImageNet-1k classifier"),
        "labels": labels,
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 3, image["height"], image["width"]]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, len(labels)]}],
        "image": image,
        "output": {"name": "logits", "type": "logits", "activation": "softmax"},
        "provenance": {
            "training_data": "none (random initialisation)" if random else "ImageNet-1k (ILSVRC 2012) training set",
            "script": "scripts/export_torchvision.py",
            "command": command,
            "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
            "license": ("BSD-3-Clause (torchvision code); random weights" if random else
                        "BSD-3-Clause (torchvision code); weights pretrained on ImageNet-1k: check the ImageNet "
                        "terms of access before commercial use; recipe: " + str(weights.meta.get("recipe", "see torchvision docs"))),
            "framework": f"torch {torch.__version__}, torchvision {torchvision.__version__}, {how}",
            "notes": "; ".join(notes),
        },
    }
    if not random:
        metadata["provenance"]["metrics"] = {f"imagenet1k_val_{k.replace('@', '')}": float(v) / 100.0 for k, v in acc.items()}
        metadata["provenance"]["notes"] += f"; weights from {weights.url}"
    if methods:
        metadata["explain"] = {"method": "gradcam", "features_method": "features", "head_method": "head"}

    try:
        pack_model.validate(metadata)
        if a.out:
            os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
            pack_model.pack(scripted, metadata, {}, a.out)
            # read back and check once more, as the C++ loader will see it
            loaded = torch.jit.load(a.out)
            ok, d = compare(model, loaded, inputs[:2], a.tolerance)
            if not ok:
                fail(f"{a.out}: the saved module does not reproduce the model (max |diff| {d:.3g})")
            print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB; {how}; optimisation: {optimisation}; "
                  f"explain: {'gradcam' if methods else 'occlusion'})")
        if a.onnx:
            os.makedirs(os.path.dirname(os.path.abspath(a.onnx)), exist_ok=True)
            export_onnx(model, image, metadata, a.onnx, a.opset)
            print(f"wrote {a.onnx} and {a.onnx}.json (opset {a.opset})")
    except pack_model.MetadataError as e:
        fail(f"metadata: {e}")


if __name__ == "__main__":
    main()
