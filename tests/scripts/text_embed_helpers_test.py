#!/usr/bin/python3
"""scripts/train_text_embed.py's pieces that the model card's figures rest on:
Spearman with ties (against a hand computation), the CoSENT loss (ordering
pairs correctly lowers it), and the mixed encoder's promise that the cosine
of two outputs is cos(t)^2 x the dense cosine + sin(t)^2 x the lexical one;
padding never changes a vector. No data files, no training."""
import math
import os
import random
import sys
import types

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import train_text_embed as t  # noqa: E402


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)


# Spearman: ranks with ties averaged, then Pearson
check(list(t.rankdata([10, 20, 20, 5])) == [2.0, 3.5, 3.5, 1.0], "rankdata ties")
check(abs(t.spearman([1, 2, 3, 4], [10, 20, 30, 40]) - 1.0) < 1e-12, "perfect rank correlation")
check(abs(t.spearman([1, 2, 3, 4], [4, 3, 2, 1]) + 1.0) < 1e-12, "perfect inverse")
# hand computation: x ranks 1,2,3,4; y = [1, 3, 2, 4] -> rho = 1 - 6*sum(d^2)/(n(n^2-1)) = 1 - 6*2/60 = 0.8
check(abs(t.spearman([1, 2, 3, 4], [1, 3, 2, 4]) - 0.8) < 1e-12, "spearman by hand")

# CoSENT: pairs in the gold order cost less than the reversed order
y = torch.tensor([1.0, 2.0, 3.0])
good = t.cosent(torch.tensor([0.1, 0.5, 0.9]), y, 20.0)
bad = t.cosent(torch.tensor([0.9, 0.5, 0.1]), y, 20.0)
check(good.item() < 0.01 and bad.item() > 10, f"cosent ordering ({good.item()}, {bad.item()})")
check(t.cosent(torch.tensor([0.3, 0.3]), torch.tensor([2.0, 2.0]), 20.0).item() == 0.0, "cosent with no ordered pair")

# the mixed encoder
torch.manual_seed(0)
V = 30
dense = t.SentenceEncoder(torch.randn(V, 8), torch.rand(V) + 0.5, 6, True)
m = t.MixedEncoder(dense, torch.rand(V) + 0.5, 64, seed=1).eval()
ids = torch.tensor([[5, 6, 7, 8], [5, 9, 10, 0]])
mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
with torch.no_grad():
    out = m(ids, mask)
    check(torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5), "unit-norm outputs")
    d = F.normalize(dense(ids, mask), dim=1)
    w = F.softplus(m.lex_weight(ids).squeeze(-1)) * mask.float()
    lex = F.normalize((m.codes[ids].float() * w.unsqueeze(-1)).sum(1), dim=1)
    c, s = math.cos(m.mix.item()), math.sin(m.mix.item())
    want = c * c * (d[0] @ d[1]) + s * s * (lex[0] @ lex[1])
    check(abs((out[0] @ out[1]).item() - want.item()) < 1e-5, "cosine is the weighted mix of the channels' cosines")
    # padding (and garbage in padded positions) does not change a row
    alone = m(ids[1:, :3], mask[1:, :3])
    padded = m(torch.tensor([[5, 9, 10, 7, 7]]), torch.tensor([[1, 1, 1, 0, 0]]))
    check(torch.allclose(alone, out[1:], atol=1e-5) and torch.allclose(padded, out[1:], atol=1e-5), "padding invariance")
    scripted = torch.jit.script(m)
    check(torch.allclose(scripted(ids, mask), out, atol=1e-6), "TorchScript == eager")

# the word channel: whole words found from their pieces, wherever they sit
# ("\u2581" pieces 3, 5, 8 start words; words: [3, 4], [5], [8, 9, 4])
starts = torch.zeros(V, dtype=torch.bool)
starts[[3, 5, 8]] = True
table = sorted([(t.word_hash([3, 4]), 0), (t.word_hash([5]), 1), (t.word_hash([8, 9, 4]), 2)])
hashes = torch.tensor([h for h, _ in table])
vec = torch.eye(4)[:3] * 100
q = torch.cat([vec[[k for _, k in table]].to(torch.int8), torch.zeros(1, 4, dtype=torch.int8)])
wc = t.WordChannel(hashes, torch.arange(3), q, torch.ones(4), torch.full((4,), 1e-3), starts)
row = {k: i for i, (_, k) in enumerate(table)}
ids = torch.tensor([[8, 9, 4, 3, 4, 5], [3, 4, 9, 5, 0, 0], [8, 9, 0, 0, 0, 0]])
mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]])
W = len(table)
want = [[W, W, row[2], W, row[0], row[1]], [W, W, W, row[1], W, W], [W, W, W, W, W, W]]
check(wc.lookup(ids, mask).tolist() == want, f"word lookup {wc.lookup(ids, mask).tolist()} != {want}")
with torch.no_grad():
    g = wc(ids, mask)
    check(torch.allclose(F.normalize(g[0], dim=0), torch.tensor([1.0, 1, 1, 0]) / math.sqrt(3), atol=1e-5),
          "equal-weight mean of the three found words")
    check(g[2].abs().sum().item() == 0.0, "a row with no known word gives the zero vector")
    mix = t.WordMixEncoder(m, wc, 0.2).eval()
    out = mix(ids, mask)
    check(torch.allclose(out.norm(dim=1)[:2], torch.ones(2), atol=1e-5), "unit-norm mixed outputs")
    want = 0.8 * (m(ids, mask)[0] @ m(ids, mask)[1]) + 0.2 * F.cosine_similarity(g[0], g[1], dim=0)
    check(abs((out[0] @ out[1]).item() - want.item()) < 1e-5, "cosine is (1 - w) trained + w word cosine")
    check(torch.allclose(torch.jit.script(mix)(ids, mask), out, atol=1e-6), "word mix: TorchScript == eager")

# a cased tokenizer: piece 6 is the capitalised piece 5 (canon maps it), and
# a second hash (the word cut as [10, 4]) names the same row as [3, 4]
canon = torch.arange(V)
canon[6] = 5
starts2 = starts.clone()
starts2[[6, 10]] = True
table2 = sorted(table + [(t.word_hash([10, 4]), 0)])
wc2 = t.WordChannel(torch.tensor([h for h, _ in table2]), torch.tensor([row[k] for _, k in table2]), q,
                    torch.ones(4), torch.full((4,), 1e-3), starts2, canon)
ids2 = torch.tensor([[6, 10, 4, 3, 4]])
got = wc2.lookup(ids2, torch.ones_like(ids2)).tolist()
check(got == [[row[1], W, row[0], W, row[0]]], f"canonical pieces and aliases {got}")
check(torch.allclose(torch.jit.script(wc2)(ids2, torch.ones_like(ids2)), wc2(ids2, torch.ones_like(ids2))),
      "aliased word channel: TorchScript == eager")

# the USE mix: cosine is (1 - u) inner + u USE cosine
class _Unit(torch.nn.Module):
    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return F.normalize(torch.stack([ids[:, 0].float() + 1, mask.sum(1).float()], 1), dim=1)
um = t.UseMixEncoder(m, _Unit(), 0.3).eval()
with torch.no_grad():
    o = um(ids, mask)
    u_in = _Unit()(ids, mask)
    want = 0.7 * (m(ids, mask)[0] @ m(ids, mask)[1]) + 0.3 * (u_in[0] @ u_in[1])
    check(abs((o[0] @ o[1]).item() - want.item()) < 1e-5, "USE mix cosine is (1 - u) inner + u USE")
    check(torch.allclose(torch.jit.script(um)(ids, mask), o, atol=1e-6), "USE mix: TorchScript == eager")
# the number channel: a number is the digits of one word ("116.92" -> 11692,
# "1,000" = "1000", "two" = "2"); cosine (c + shared) / sqrt((c + |A|)(c + |B|))
class _Pieces:
    P = ["<pad>", "<unk>", "\u2581at", "\u25811", "16", ".", "9", "2", "\u2581yen", "\u2581two", "\u25812", ",", "000",
         "\u25811000", "\u2581(", "8", "\u2581one"]

    def get_piece_size(self):
        return len(self.P)

    def id_to_piece(self, i):
        return self.P[i]

    def is_control(self, i):
        return i == 0

    def is_unknown(self, i):
        return i == 1

    def is_unused(self, i):
        return False

nc = t.NumberChannel(t.number_tables(_Pieces()), 64, 2.0)
rows = [[2, 3, 4, 5, 6, 7, 8], [2, 3, 4, 5, 15, 8, 0], [9, 8, 0, 0, 0, 0, 0], [10, 8, 0, 0, 0, 0, 0],
        [3, 11, 12, 0, 0, 0, 0], [13, 0, 0, 0, 0, 0, 0], [2, 8, 16, 0, 0, 0, 0], [10, 5, 14, 8, 0, 0, 0]]
ids = torch.tensor(rows)
mask = (ids > 0).long()
with torch.no_grad():
    n = nc(ids, mask)
    cos = n @ n.t()
    check(abs(cos[0, 1].item() - 2 / 3) < 1e-5, f"116.92 against 116.8: c / (c + 1), got {cos[0, 1].item()}")
    check(abs(cos[2, 3].item() - 1) < 1e-5, "'two' reads as 2")
    check(abs(cos[4, 5].item() - 1) < 1e-5, "'1,000' reads as 1000")
    check(abs(cos[6, 6].item() - 1) < 1e-5 and abs(cos[6, 3].item() - math.sqrt(2 / 3)) < 1e-5,
          "no numbers ('one' is not read as 1): sqrt(c / (c + 1)) against one number")
    check(abs(cos[7, 3].item() - 1) < 1e-5, "a full stop after a number is not part of it; '(' starts a new word")
    one = nc(ids[1:2, :6], mask[1:2, :6])
    check(torch.allclose(one, n[1:2], atol=1e-6), "padding invariance")
    check(torch.allclose(torch.jit.script(nc)(ids, mask), n, atol=1e-6), "number channel: TorchScript == eager")
    nm = t.NumberMixEncoder(_Unit(), nc, 0.125).eval()
    o = nm(ids, mask)
    u_in = _Unit()(ids, mask)
    want = 0.875 * (u_in[0] @ u_in[1]) + 0.125 * cos[0, 1]
    check(abs((o[0] @ o[1]).item() - want.item()) < 1e-5, "number mix cosine is (1 - a) inner + a numbers")
    check(torch.allclose(torch.jit.script(nm)(ids, mask), o, atol=1e-6), "number mix: TorchScript == eager")
# USE lite fine-tuning (finetune_use): on pairs whose gold score is how many
# pieces they share, an encoder of random piece vectors learns to order them,
# and the global random stream is left alone (the trained channels' batches
# do not change with fine-tuning)
class _Bag(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.e = torch.nn.Embedding(12, 8)

    def forward(self, ids, mask):
        return F.normalize((self.e(ids) * mask.unsqueeze(-1)).sum(1), dim=1)


torch.manual_seed(3)
gen = random.Random(5)
pa, pb, py = [], [], []
for _ in range(64):
    x = gen.sample(range(1, 12), 4)
    k = gen.randint(0, 4)
    pa.append(x)
    pb.append(x[:k] + gen.sample([i for i in range(1, 12) if i not in x], 4 - k))
    py.append(float(k))
bag = _Bag()
sets = {"toy": (pa, pb, torch.tensor(py))}
before = t.spearman(t.pair_cos(bag, pa, pb), py)
lines = []
state = random.getstate()
tuned = t.finetune_use(bag, sets, {"toy dev": (pa, pb, py)},
                       types.SimpleNamespace(use_epochs=30, use_lr=0.05, use_batch=16, scale=20.0, seed=1), lines.append)
after = t.spearman(t.pair_cos(tuned, pa, pb), py)
check(after > before + 0.2 and after > 0.9, f"fine-tuning orders the pairs ({before:.3f} -> {after:.3f})")
check(random.getstate() == state, "fine-tuning draws from its own random stream")
check(not tuned.training and len(lines) == 31 and "toy dev" in lines[-1], f"eval mode, one log line an epoch: {lines[-1]}")

# add_use_channel: u maximises the mean Spearman over the dev sets; u = 0
# (the model unchanged) when the USE channel helps none of them
class _Feat(torch.nn.Module):
    """Unit vectors (1, ids[:, col]) scaled: cosine rises with the pair's agreement on column col."""
    def __init__(self, col):
        super().__init__()
        self.col = col

    def forward(self, ids, mask):
        return F.normalize(torch.stack([torch.ones(ids.shape[0]), ids[:, self.col].float()], 1), dim=1)


a_ids = [[1, 1]] * 6
b_ids = [[1, 1], [2, 3], [3, 5], [4, 2], [5, 6], [6, 4]]
y1 = [6, 5, 4, 3, 2, 1]  # the order of column 0
y2 = [6, 3, 1, 4, 2, 5]  # column 1's
inner, use = _Feat(0), _Feat(1)
lines = []
mixed, r = t.add_use_channel(inner, use, {"one": (a_ids, b_ids, y1), "two": (a_ids, b_ids, y2)}, 0.5, lines.append)
check(isinstance(mixed, t.UseMixEncoder) and 0 < mixed.u[1].item() ** 2 < 1, f"a mixture is chosen: {lines[-1]}")
same, r = t.add_use_channel(inner, _Feat(0), {"one": (a_ids, b_ids, y1)}, 0.5, lines.append)
check(same is inner and r == 0.5, "no gain: the model unchanged")
print("all checks passed")
