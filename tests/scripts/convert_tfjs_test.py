"""scripts/convert_tfjs.py on a tiny synthetic tfjs graph that uses the ops of
the NanoDet graph (Pad, Transpose, NHWC Conv2D + Add, LeakyRelu, PadV2 +
MaxPool, ResizeBilinear with half-pixel centres, ConcatV2, SplitV, Sigmoid,
Reshape whose shape comes from SparseToDense + AddV2 on int64 constants,
Identity; and BlazeFace's _FusedConv2D and DepthwiseConv2dNative), float16
and affine-uint8 weights, checked against a numpy
computation written from TF's definitions; and scripts/coco_eval.py on a
hand-worked example (a crowd region, an IoU of 0.72, a false positive that
outranks the true one). No network, no ../shared. Run with /usr/bin/python3."""
import base64
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import torch  # noqa: E402

import coco_eval  # noqa: E402
import convert_tfjs  # noqa: E402

torch.set_num_threads(1)
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


# ---- a tiny graph ------------------------------------------------------------
rng = np.random.default_rng(1)
W = rng.normal(size=(3, 3, 2, 4)).astype(np.float16).astype(np.float32)  # HWIO, stored as float16
B = rng.normal(size=(4,)).astype(np.float16).astype(np.float32)
Q_MIN, Q_SCALE = -1.0, 0.01
Q = rng.integers(0, 256, size=(1, 1, 4, 5)).astype(np.uint8)  # 1x1 conv, affine uint8
W2 = Q.astype(np.float32) * np.float32(Q_SCALE) + np.float32(Q_MIN)

s = lambda v: {"s": base64.b64encode(v.encode()).decode()}
ints = lambda v: {"list": {"i": [str(x) for x in v]}}
consts = []  # (name, np array, tfjs dtype, quantization)
nodes = [{"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
          "shape": {"shape": {"dim": [{"size": "1"}, {"size": "2"}, {"size": "6"}, {"size": "6"}]}}}}]


def const(name, arr, dtype="int32", quant=None):
    consts.append((name, np.asarray(arr), dtype, quant))
    nodes.append({"name": name, "op": "Const", "attr": {}})
    return name


def node(name, op, inputs, **attr):
    nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
    return name


const("pad", [[0, 0], [0, 0], [1, 1], [1, 1]])
const("to_nhwc", [0, 2, 3, 1])
const("to_nchw", [0, 3, 1, 2])
const("w", W, "float32", {"dtype": "float16", "original_dtype": "float32"})
const("b", B, "float32", {"dtype": "float16", "original_dtype": "float32"})
const("w2", W2, "float32", {"dtype": "uint8", "min": Q_MIN, "scale": Q_SCALE})
const("pool_pad", [[0, 0], [0, 0], [1, 1], [1, 1]])
const("neg", np.float32(-1e9), "float32")
const("size", [6, 6])
const("axis1", 1)
const("splits", [3, -1])
const("where", np.zeros((0, 1)))  # SparseToDense with no indices: all default
const("dense_shape", [3])
const("vals", np.zeros((0,)))
const("zero", 0)
const("shape_base", [1, -1, 3])
conv = dict(padding=s("VALID"), data_format=s("NHWC"), strides=ints([1, 1, 1, 1]), dilations=ints([1, 1, 1, 1]))
node("p", "Pad", ["x", "pad"])
node("t1", "Transpose", ["p", "to_nhwc"])
node("c", "Conv2D", ["t1", "w"], **conv)
node("cb", "Add", ["c", "b"])
node("t2", "Transpose", ["cb", "to_nchw"])
node("lr", "LeakyRelu", ["t2"], alpha={"f": 0.1})
node("pp", "PadV2", ["lr", "pool_pad", "neg"])
node("t3", "Transpose", ["pp", "to_nhwc"])
node("mp", "MaxPool", ["t3"], padding=s("VALID"), data_format=s("NHWC"), ksize=ints([1, 3, 3, 1]), strides=ints([1, 2, 2, 1]))
node("rs", "ResizeBilinear", ["mp", "size"], align_corners={"b": False}, half_pixel_centers={"b": True})
node("c2", "Conv2D", ["rs", "w2"], **conv)
node("t4", "Transpose", ["c2", "to_nchw"])
node("cat", "ConcatV2", ["t4", "lr", "axis1"], N={"i": "2"})
node("sp", "SplitV", ["cat", "splits", "axis1"], num_split={"i": "2"})
node("sg", "Sigmoid", ["sp"])
node("std", "SparseToDense", ["where", "dense_shape", "vals", "zero"])
node("shape", "AddV2", ["shape_base", "std"])
node("t5", "Transpose", ["sg", "to_nhwc"])
node("out0", "Reshape", ["t5", "shape"])
node("Identity", "Identity", ["out0"])
node("Identity_1", "Identity", ["sp:1"])

buf, specs = b"", []
for name, arr, dtype, quant in consts:
    spec = {"name": name, "shape": list(arr.shape), "dtype": dtype}
    if quant and quant["dtype"] == "float16":
        buf += arr.astype("<f2").tobytes()
        spec["quantization"] = quant
    elif quant:
        buf += Q.tobytes()
        spec["quantization"] = quant
    else:
        buf += arr.astype("<f4" if dtype == "float32" else "<i4").tobytes()
    specs.append(spec)
graph = {"format": "graph-model", "modelTopology": {"node": nodes},
         "weightsManifest": [{"paths": ["tiny.bin"], "weights": specs}],
         "signature": {"inputs": {"x:0": {"name": "x:0", "dtype": "DT_FLOAT", "tensorShape": {"dim": [
             {"size": "1"}, {"size": "2"}, {"size": "6"}, {"size": "6"}]}}}}}


# ---- the same network in numpy, from TF's definitions -------------------------
def np_conv_nhwc(x, w, b=None):
    n, h, wd, _ = x.shape
    kh, kw, _, co = w.shape
    out = np.zeros((n, h - kh + 1, wd - kw + 1, co), np.float64)
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j, :] = np.tensordot(x[:, i:i + kh, j:j + kw, :], w, axes=([1, 2, 3], [0, 1, 2]))
    return out + (0 if b is None else b)


def np_resize_half_pixel(x, oh, ow):  # TF ResizeBilinear, half_pixel_centers=True
    n, ih, iw, c = x.shape
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        fy = (i + 0.5) * ih / oh - 0.5
        y0 = int(np.floor(fy))
        ly = fy - y0
        ya, yb = min(max(y0, 0), ih - 1), min(max(y0 + 1, 0), ih - 1)
        for j in range(ow):
            fx = (j + 0.5) * iw / ow - 0.5
            x0 = int(np.floor(fx))
            lx = fx - x0
            xa, xb = min(max(x0, 0), iw - 1), min(max(x0 + 1, 0), iw - 1)
            top = x[:, ya, xa] * (1 - lx) + x[:, ya, xb] * lx
            bot = x[:, yb, xa] * (1 - lx) + x[:, yb, xb] * lx
            out[:, i, j] = top * (1 - ly) + bot * ly
    return out


def reference(x):
    p = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    c = np_conv_nhwc(p.transpose(0, 2, 3, 1), W, B).transpose(0, 3, 1, 2)
    lr = np.where(c > 0, c, 0.1 * c)
    pp = np.pad(lr, [(0, 0), (0, 0), (1, 1), (1, 1)], constant_values=-1e9).transpose(0, 2, 3, 1)
    mp = np.zeros((x.shape[0], 3, 3, pp.shape[3]))
    for i in range(3):
        for j in range(3):
            mp[:, i, j] = pp[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(1, 2))
    rs = np_resize_half_pixel(mp, 6, 6)
    c2 = np_conv_nhwc(rs, W2).transpose(0, 3, 1, 2)
    cat = np.concatenate([c2, lr], 1)
    sg = 1 / (1 + np.exp(-cat[:, :3]))
    return sg.transpose(0, 2, 3, 1).reshape(x.shape[0], -1, 3), cat[:, 3:]


with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "tiny.json"), "w") as f:
        json.dump(graph, f)
    with open(os.path.join(d, "tiny.bin"), "wb") as f:
        f.write(buf)
    g, weights = convert_tfjs.read_graph_model(os.path.join(d, "tiny.json"))
    check(np.array_equal(weights["w"], W), "float16 weights decode to the stored halves")
    check(np.allclose(weights["w2"], W2, atol=1e-6), "uint8 weights decode as q * scale + min")
    check(weights["where"].shape == (0, 1), "empty weights keep their shape")
    module = convert_tfjs.TfjsGraph(g, weights, outputs=["Identity", "Identity_1"])
    check(not any(st["op"] in ("SparseToDense", "AddV2") for st in module.program), "shape arithmetic is folded at build time")
    check(sum(st["op"] == "Add" for st in module.program) == 0 and any("bias" in st for st in module.program),
          "Conv2D + Add of a constant vector is fused into one convolution")
    x = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(0))
    traced, batch_ok = convert_tfjs.trace(module, x)
    want = reference(x.double().numpy())
    got = [t.numpy() for t in traced(x)]
    for k, (a, b) in enumerate(zip(got, want)):
        check(a.shape == b.shape, f"output {k} shape {a.shape} == {b.shape}")
        err = float(np.abs(a - b).max())
        check(err < 1e-4, f"output {k} matches the numpy computation of TF's semantics (max abs diff {err:.2g})")
    check(batch_ok, "the traced module runs a batch of 2 like two single images")
    x3 = torch.randn(3, 2, 6, 6, generator=torch.Generator().manual_seed(1))
    want3 = reference(x3.double().numpy())
    check(all(np.abs(t.numpy() - w).max() < 1e-4 for t, w in zip(traced(x3), want3)), "batch of 3 matches the numpy computation")
    path = os.path.join(d, "tiny.pt")
    traced.save(path)
    again = torch.jit.load(path)
    check(all(torch.equal(p, q) for p, q in zip(again(x), traced(x))), "saved and reloaded module gives the same outputs")
    # an unsupported op names itself
    g2 = json.loads(json.dumps(g))
    g2["modelTopology"]["node"].append({"name": "weird", "op": "Erf", "input": ["lr"]})
    try:
        convert_tfjs.TfjsGraph(g2, weights, outputs=["weird"])(x)
        check(False, "an unsupported op is refused")
    except NotImplementedError as e:
        check("Erf" in str(e) and "weird" in str(e), f"an unsupported op is refused by name ({e})")

# ---- the ops of MediaPipe's BlazeFace graph ------------------------------------
# _FusedConv2D (BiasAdd + Relu, SAME padding, stride 2), DepthwiseConv2dNative
# (SAME, channel multiplier 2), and a signature kept under userDefinedMetadata,
# checked against numpy.
WF = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)  # HWIO
BF = rng.normal(size=(4,)).astype(np.float32)
WD = rng.normal(size=(3, 3, 4, 2)).astype(np.float32)  # H, W, C, multiplier
bf_nodes = [{"name": "input", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
             "shape": {"shape": {"dim": [{"size": "1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}}}},
            {"name": "wf", "op": "Const", "attr": {}}, {"name": "bf", "op": "Const", "attr": {}},
            {"name": "wd", "op": "Const", "attr": {}},
            {"name": "fc", "op": "_FusedConv2D", "input": ["input", "wf", "bf"],
             "attr": {"padding": s("SAME"), "data_format": s("NHWC"), "strides": ints([1, 2, 2, 1]),
                      "dilations": ints([1, 1, 1, 1]), "num_args": {"i": "1"},
                      "fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode(), base64.b64encode(b"Relu").decode()]}}}},
            {"name": "dw", "op": "DepthwiseConv2dNative", "input": ["fc", "wd"],
             "attr": {"padding": s("SAME"), "data_format": s("NHWC"), "strides": ints([1, 1, 1, 1]),
                      "dilations": ints([1, 1, 1, 1])}},
            {"name": "Identity", "op": "Identity", "input": ["dw"]}]
bf_buf = WF.astype("<f4").tobytes() + BF.astype("<f4").tobytes() + WD.astype("<f4").tobytes()
bf_graph = {"format": "graph-model", "modelTopology": {"node": bf_nodes},
            "weightsManifest": [{"paths": ["bf.bin"], "weights": [
                {"name": "wf", "shape": list(WF.shape), "dtype": "float32"},
                {"name": "bf", "shape": list(BF.shape), "dtype": "float32"},
                {"name": "wd", "shape": list(WD.shape), "dtype": "float32"}]}],
            "userDefinedMetadata": {"signature": {"inputs": {"input:0": {"name": "input:0", "tensorShape": {"dim": [
                {"size": "1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}}},
                "outputs": {"Identity:0": {"name": "Identity:0", "tensorShape": {"dim": [
                    {"size": "1"}, {"size": "4"}, {"size": "4"}, {"size": "8"}]}}}}}}


def np_same_pad(x, k, stride):  # TF SAME padding of an NHWC tensor
    pads = []
    for size in x.shape[1:3]:
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)])


def bf_reference(x):
    p = np_same_pad(x, 3, 2)
    full = np_conv_nhwc(p, WF, BF)[:, ::2, ::2]  # stride 2 = every other position of the stride-1 result
    fc = np.maximum(full, 0)
    p = np_same_pad(fc, 3, 1)
    n, h, w, c = fc.shape
    out = np.zeros((n, h, w, c * 2))
    for ch in range(c):
        for m in range(2):
            out[..., ch * 2 + m] = np_conv_nhwc(p[..., ch:ch + 1], WD[:, :, ch:ch + 1, m:m + 1])[..., 0]
    return out


with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "bf.json"), "w") as f:
        json.dump(bf_graph, f)
    with open(os.path.join(d, "bf.bin"), "wb") as f:
        f.write(bf_buf)
    g, weights = convert_tfjs.read_graph_model(os.path.join(d, "bf.json"))
    outs = convert_tfjs.signature_outputs(g)
    check(outs == [("Identity:0", [1, 4, 4, 8])], f"a signature under userDefinedMetadata is read ({outs})")
    module = convert_tfjs.TfjsGraph(g, weights, outputs=[o[0] for o in outs])
    x = torch.randn(2, 8, 8, 3, generator=torch.Generator().manual_seed(2))
    got = module(x)[0].detach().numpy()
    want = bf_reference(x.double().numpy())
    err = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
    check(err < 1e-4, f"_FusedConv2D (BiasAdd, Relu) + DepthwiseConv2dNative match numpy (shape {got.shape}, max abs diff {err:.2g})")

# ---- COCO evaluation, worked by hand ---------------------------------------------
# One image: box A (area 100, small) and a crowd region C. Detections: d3 inside
# C (matched to the crowd region: ignored, not a false positive), d1 a false
# positive that outranks d2, and d2 on A with IoU 0.72 (a match at thresholds
# 0.50 .. 0.70: 5 of 10). With d1 before d2, precision at recall 1 is 1/2 and,
# made monotone, 1/2 at every recall point: AP50 = 0.5, AP = 5 * 0.5 / 10 =
# 0.25, AP75 = 0. A is small: APs = 0.25; no medium or large ground truth:
# APm = APl = -1. Recall at 100 detections: 5 of 10 thresholds find A: 0.5.
gt = {"images": [{"id": 1, "width": 200, "height": 200}],
      "categories": [{"id": 1, "name": "thing"}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
                      {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 20, 20], "area": 400, "iscrowd": 1}]}
dets = [{"image_id": 1, "category_id": 1, "bbox": [55, 55, 5, 5], "score": 0.95},
        {"image_id": 1, "category_id": 1, "bbox": [100, 100, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 7.2], "score": 0.8}]
st = coco_eval.evaluate(gt, dets)
for k, v in {"AP": 0.25, "AP50": 0.5, "AP75": 0.0, "APs": 0.25, "APm": -1.0, "APl": -1.0, "AR100": 0.5}.items():
    check(abs(st[k] - v) < 1e-9, f"COCO {k} = {v} (got {st[k]:.4f})")
st = coco_eval.evaluate(gt, [dict(d, score=1 - d["score"]) for d in dets])
check(abs(st["AP50"] - 1.0) < 1e-9, f"true positive ranked first: AP50 1.0 (got {st['AP50']:.4f})")
perfect = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5}]
check(abs(coco_eval.evaluate(gt, perfect)["AP"] - 1.0) < 1e-9, "a perfect detection scores AP 1.0")

# ---- the proposed "gfl" detection layout in pack_model.py ----------------------
import make_coco_detector  # noqa: E402
import pack_model  # noqa: E402

meta = make_coco_detector.metadata(2704 + 676 + 169, 44)
check(pack_model.validate(json.loads(json.dumps(meta))) is not None, "the COCO detector's metadata validates")
for field, value, fragment in [("reg_max", 7, "box_distributions' must end in [3549, 32]"),
                               ("strides", [8, 16], "must end in [3380, 80]"),
                               ("centre_offset", 0.25, "centre_offset"),
                               ("scores_output", "logits", "scores_output")]:
    bad = json.loads(json.dumps(meta))
    bad["detection"]["gfl"][field] = value
    try:
        pack_model.validate(bad)
        check(False, f"gfl {field}={value!r} is refused")
    except pack_model.MetadataError as e:
        check(fragment in str(e), f"gfl {field}={value!r} is refused: {e}")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all checks passed")
