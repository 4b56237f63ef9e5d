#!/usr/bin/python3
"""scripts/convert_use_lite.py without its npm package: the SentencePiece
ModelProto it writes from a vocab.json-style list loads in libsentencepiece
(unknown, control, user-defined and duplicated pieces as the package has
them), segments by the scores and normalises (NFKC, case folded,
punctuation spaced off words); the PyTorch graph, built from random weights
under the package's weight names, is padding-invariant, finite on empty rows,
unit-norm and scriptable, and so is its int8 copy (to_int8), which stays
close to it and gives each row the same result in any batch. The real
weights are checked against TensorFlow.js by `convert_use_lite.py --check
--tfjs DIR` (models/text-embed.md)."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import convert_use_lite as c  # noqa: E402
import sentencepiece as spm  # noqa: E402


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)


# the tokenizer
vocab = [["\ufffd", 0], ["<s>", 0], ["</s>", 0], ["extra_token_id_1", 0], ["extra_token_id_2", 0],
         ["extra_token_id_3", 0], ["\u2581the", -2.0], ["\u2581cat", -3.0], ["\u2581ca", -4.0], ["t", -4.0],
         [":", None], ["\u2581", -3.0], ["s", -3.5], ["\u2581cats", -9.0], ["dup", -5.0], ["dup", -6.0]]
vocab += [[ch, -8.0] for ch in "abcdefghijklmnopqrstuvwxyz" if ch not in ("t", "s")]
sp = spm.SentencePieceProcessor(model_proto=c.spm_model_from_vocab(vocab))
check(sp.get_piece_size() == len(vocab), f"{sp.get_piece_size()} pieces, expected {len(vocab)}")
check(sp.unk_id() == 0 and sp.is_unknown(0) and sp.is_control(1) and sp.is_control(5), "special pieces")
check(sp.encode("the cat", out_type=str) == ["\u2581the", "\u2581cat"], f"segmentation {sp.encode('the cat', out_type=str)}")
check(sp.encode("the cats", out_type=str) == ["\u2581the", "\u2581cat", "s"], "the scores decide: cat|s over cats")
check(":" in sp.encode("the:cat", out_type=str), "a user-defined piece (null score in vocab.json) stays whole")
check(sp.id_to_piece(14).startswith("<unused") and sp.piece_to_id("dup") == 15, "duplicates: the last one counts")
check(sp.encode("\uff43\uff41\uff54", out_type=str) == ["\u2581cat"], "NFKC: full-width letters")
# punctuation spaced off words, so that a word keeps its pieces next to a quote,
# bracket, slash or hyphen; typographic quotes read as ASCII
check("\u2581cat" in sp.encode("the/cat", out_type=str), f"the/cat -> {sp.encode('the/cat', out_type=str)}")
check(sp.encode('"the" (cat)', out_type=str) == sp.encode('" the " ( cat )', out_type=str), "quotes and brackets split")
check(sp.encode("\u201cthe\u201d", out_type=str) == sp.encode('"the"', out_type=str), "typographic quotes as ASCII")
check(sp.encode("the-cat") == sp.encode("the - cat"), "hyphen split")
check(sp.encode("THE Cat") == sp.encode("the cat"), "case folded")
raw = spm.SentencePieceProcessor(model_proto=c.spm_model_from_vocab(vocab, nfkc_only=True))
check("\u2581cat" not in raw.encode("the/cat", out_type=str), "nfkc_only: the package's segmentation")
check(raw.encode("THE", out_type=str) != raw.encode("the", out_type=str), "nfkc_only: cased")
check(raw.encode("\uff43\uff41\uff54", out_type=str) == ["\u2581cat"], "NFKC without the splitting too")

# the graph, random weights under the package's names
rng = np.random.default_rng(0)
K = c._K
w = {"module/Embeddings_en": rng.normal(0, 0.1, (50, 16)).astype(np.float32),
     f"{K}Encode/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1":
         (1.0 / 10000 ** (np.arange(8) / 8)).astype(np.float32)[None],
     f"{K}Encode/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2":
         np.array(2, np.int32),
     "module/Encoder_en/hidden_layers/tanh_layer_0/weights": rng.normal(0, 0.2, (32, 32)).astype(np.float32),
     "module/Encoder_en/hidden_layers/tanh_layer_0/bias": rng.normal(0, 0.1, 32).astype(np.float32)}
for i, (din, dout) in enumerate([(16, 32), (32, 32)]):
    enc = f"{K}Encode/Layer_{i}/TransformerLayer/"
    stack = f"{K}Encode/TransformerStack/Layer_{i}/TransformerLayer/"
    var = f"module/Encoder_en/KonaTransformer/Encode/Layer_{i}/TransformerLayer/"
    r = lambda *s: rng.normal(0, 0.2, s).astype(np.float32)
    w[enc + "layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat"] = 1 + r(din)
    w[enc + "layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat"] = r(din)
    w[var + "MultiheadAttention/qkv_transform_single/kernel/part_0"] = r(1, 1, din, 3 * din)
    w[enc + "MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat"] = r(3 * din)
    w[var + "MultiheadAttention/output_transform_single/kernel/part_0"] = r(1, 1, din, dout)
    w[enc + "MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat"] = r(dout)
    w[stack + "MultiheadAttention/mul/y"] = np.array((din // 2) ** -0.5, np.float32)
    if din != dout:
        w[enc + "dense/kernel/ConcatPartitions/concat"] = r(din, dout)
        w[enc + "dense/bias/ConcatPartitions/concat"] = r(dout)
    w[enc + "FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat"] = 1 + r(dout)
    w[enc + "FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat"] = r(dout)
    w[stack + "FFN/conv1/Tensordot/Reshape_1"] = r(dout, 48)
    w[enc + "FFN/conv1/bias/ConcatPartitions/concat"] = r(48)
    w[stack + "FFN/conv2/Tensordot/Reshape_1"] = r(48, dout)
    w[enc + "FFN/conv2/bias/ConcatPartitions/concat"] = r(dout)
m = c.UseLiteEncoder(w).eval()
check(m.layers[0].adjust and not m.layers[1].adjust, "layer 0 projects its residual, layer 1 does not")
seqs = [[7, 8, 9], [10, 11, 12, 13, 14, 15], [6]]
with torch.no_grad():
    ids, mask = c.pad(seqs)
    out = m(ids, mask)
    check(torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5), "unit norm")
    for i, s in enumerate(seqs):
        alone = m(*c.pad([s]))[0]
        check(torch.allclose(alone, out[i], atol=1e-5), f"padding changes row {i}")
    long_pad = torch.cat([ids[:1], torch.full((1, 5), 3)], 1), torch.cat([mask[:1], torch.zeros(1, 5, dtype=torch.long)], 1)
    check(torch.allclose(m(*long_pad)[0], out[0], atol=1e-5), "padding ids are never read")
    empty = m(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))
    check(bool(torch.isfinite(empty).all()), "empty rows finite")
    check(torch.allclose(torch.jit.script(m)(ids, mask), out, atol=1e-6), "TorchScript == eager")
    # position matters (a transformer, not a bag of pieces)
    check(not torch.allclose(m(*c.pad([[7, 8, 9]])), m(*c.pad([[9, 8, 7]])), atol=1e-4), "word order moves the vector")

# the int8 copy (the shipped channel): close to the float graph, the same in any batch, smaller once saved
q = c.to_int8(m).eval()
check(isinstance(q.layers[0].qkv, c._Int8Dense) and isinstance(q.emb, c.Int8Rows), "to_int8 swaps the layers")
check(not isinstance(q.layers[1].adj, c._Int8Dense), "the empty residual projection of layer 1 stays as it is")
check(isinstance(m.layers[0].qkv, c._Dense), "to_int8 leaves the float encoder alone")
seqs = [list(rng.integers(6, 50, n)) for n in (3, 9, 1, 14, 6, 6)]
with torch.no_grad():
    ids, mask = c.pad(seqs)
    fl, qo = m(ids, mask), q(ids, mask)
    cos = (fl * qo).sum(1)
    check(bool((cos > 0.99).all()), f"int8 vs float cosines {cos.tolist()}")
    sq = torch.jit.script(q)
    check(torch.allclose(sq(ids, mask), qo, atol=1e-6), "int8: TorchScript == eager")
    for i, s in enumerate(seqs):
        alone = sq(*c.pad([s]))[0]
        check(float((alone * qo[i]).sum()) > 0.9999, f"int8: row {i} depends on its batch mates")
    # a batch whose other rows are 100x larger must not coarsen this row's quantisation
    d = q.layers[1].c1  # 32 -> 48
    x = torch.randn(2, 4, 32)
    x2 = torch.cat([x, 100 * torch.randn(1, 4, 32)])
    check(torch.allclose(d(x2)[:2], d(x), atol=1e-5), "int8 dense: a row's result ignores the scale of the others")
    w, _ = torch.ops.quantized.linear_unpack(d.packed)
    ref = x @ w.dequantize().t() + d.b  # the arithmetic of the non-CPU path
    check(float((d(x) - ref).abs().max()) < 0.05 * float(ref.abs().max()), "int8 dense vs its dequantised weights")
print("all checks passed")
