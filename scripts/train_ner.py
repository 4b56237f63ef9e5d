#!/usr/bin/python3
"""Train the default named-entity model (CoNLL-2003, English) and pack it as a sense bundle.

    OMP_NUM_THREADS=1 nice -n 5 /usr/bin/python3 scripts/train_ner.py train \
        --wv-modern-repeat 3 --wv-epochs 3 --wv-max-seconds 840 --epochs 60 --patience 10 --max-minutes 68
                                 # snapshots every epoch, then averages checkpoints (chosen on dev)
    /usr/bin/python3 scripts/train_ner.py export   # packs models/ner-conll2003.pt
    /usr/bin/python3 scripts/train_ner.py ensemble --members A,B,C   # or: the dev-chosen mean of several runs
                                 # (train each with its own --cache and --seed; see models/ner-conll2003.md)
    /usr/bin/python3 scripts/train_ner.py bias     # person recall by name origin, through the C++ path

Pipeline (every choice is made on CoNLL-2003 dev = eng.testa; test is never read here):
  1. Words are what sense's own pre-tokenizer makes of text (the BERT basic
     tokenizer of text/src/tokenizer/wordpiece_tokenizer.cc: split on
     whitespace, every punctuation character its own word). Each CoNLL token
     is split the same way ("U.S." -> U . S ., "'s" -> ' s); the first piece
     keeps the token's tag and the others continue its entity (I-X), so the
     model is trained on exactly the words it sees at run time.
  2. Word vectors: skip-gram with negative sampling (word2vec, Mikolov et al.
     2013), trained here in torch on the 79 Project Gutenberg books of
     ../shared/data/corpus plus --wv-modern-repeat copies of the English
     sentence text that is here and is not CoNLL dev/test (CoNLL train,
     MRPC, STS-B, SICK, SST-2: news and web text, closer to Reuters than
     19th-century books); lower-cased, digits mapped to 0.
  3. Gazetteer features from the Debian iso-codes package: whether a word is
     (part of) a country name (ISO 3166-1), a region/state/province/city
     subdivision name (ISO 3166-2) or a language name (ISO 639-2).
  4. BiLSTM-CNN-CRF (Ma & Hovy 2016; Lample et al. 2016): character CNN over
     each word (case-sensitive, so it carries capitalisation), word
     embedding, gazetteer bits -> BiLSTM -> linear emissions -> CRF with
     start/end scores. Augmentation: a few sentences per epoch are fully
     lower- or upper-cased so that such text still works; with
     --mention-replace p, a fraction p of the sentences each epoch has every
     entity mention swapped for a random distinct mention of the same type
     from CoNLL train (mention replacement, Dai & Adel 2020), so that the
     context and the character shape of a name, not the memorised words of
     the mention, have to carry the type. Every epoch is
     snapshotted; the average step then tries the mean weights of the last k
     and of the best k epochs (k = 2..8) and keeps whichever of these or the
     single best epoch is best on dev (checkpoint averaging).
  5. Export: the bundle's tokenizer is a character-level WordPiece vocab.txt
     ("c" starts a word, "##c" continues it), so the sense C++ path feeds the
     model one id per character and labels the first sub-token of each word
     (first-subword labelling). Inside the TorchScript module the characters
     are regrouped into words, each word's lower-cased spelling is hashed
     (two polynomial hashes mod primes) and looked up in a sorted table of
     the vocabulary's hashes (torch.searchsorted) to find its embedding row,
     and the word emissions are scattered back to every character of the
     word. The CRF transitions and start/end scores go into sense.json
     (token_classification.transitions/start_scores/end_scores): sense
     decodes with Viterbi.
"""
import argparse
import collections
import datetime
import json
import math
import os
import random
import re
import sys
import time
from typing import List
import unicodedata

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared", "data")
CACHE = os.path.join(ROOT, "models", ".cache-ner")
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
TAG_ID = {t: i for i, t in enumerate(TAGS)}
MAX_CNN_CHARS = 24  # characters of a word the CNN sees (the hash sees all)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# hash constants (int64 arithmetic in TorchScript; products stay < 2^50)
P1, M1 = 131, 1000000007
P2, M2 = 257, 998244353
MAX_WORD_CHARS = 100  # WordPiece max_input_chars_per_word: longer words are [UNK]


class Log:
    def __init__(self, path):
        self.f = open(path, "a") if path else None

    def __call__(self, msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()


# ---------------------------------------------------------------------------- words
def is_punct(c):
    o = ord(c)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def basic_split(token):
    """The BERT basic tokenizer's split of one whitespace-free token (no lower-casing)."""
    out, cur = [], []
    for c in token:
        if is_punct(c):
            if cur:
                out.append("".join(cur))
                cur = []
            out.append(c)
        else:
            cur.append(c)
    if cur:
        out.append("".join(cur))
    return out


TYPO = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}


def norm_char(c):
    """Character as the CNN sees it: typographic quotes and dashes as ASCII."""
    return TYPO.get(c, c)


def key_char(c):
    c = norm_char(c)
    if "0" <= c <= "9":
        return "0"
    lc = c.lower()
    return lc if len(lc) == 1 else c


def word_key(w):
    return "".join(key_char(c) for c in w)


def read_conll(path):
    sents, words, tags = [], [], []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("-DOCSTART-"):
            if words:
                sents.append((words, tags))
                words, tags = [], []
            continue
        parts = line.split()
        words.append(parts[0])
        tags.append(parts[-1])
    if words:
        sents.append((words, tags))
    return sents


def to_basic(sent):
    """CoNLL tokens + BIO tags -> pre-tokenizer words + BIO tags."""
    words, tags = sent
    ow, ot = [], []
    for w, t in zip(words, tags):
        pieces = basic_split(w) or [w]
        for k, p in enumerate(pieces):
            ow.append(p)
            if k == 0 or t == "O":
                ot.append(t)
            else:
                ot.append("I-" + t[2:])
    return ow, ot


def chunks(tags):
    """Entity spans (type, start, end) of a BIO sequence, conlleval-style (I after O starts an entity)."""
    out, start, typ = [], None, None
    for i, t in enumerate(list(tags) + ["O"]):
        if t == "O" or t.startswith("B-") or (t.startswith("I-") and t[2:] != typ):
            if typ is not None:
                out.append((typ, start, i))
            typ, start = (t[2:], i) if t != "O" else (None, None)
    return out


def f1_score(gold_seqs, pred_seqs):
    tp = np_ = ng = 0
    for g, p in zip(gold_seqs, pred_seqs):
        gs, ps = set(chunks(g)), set(chunks(p))
        tp += len(gs & ps)
        np_ += len(ps)
        ng += len(gs)
    prec = tp / np_ if np_ else 0.0
    rec = tp / ng if ng else 0.0
    return 100 * (2 * prec * rec / (prec + rec) if prec + rec else 0.0), 100 * prec, 100 * rec


# ---------------------------------------------------------------------------- gazetteers
def gazetteers():
    base = "/usr/share/iso-codes/json"
    sets = [set(), set(), set()]
    if not os.path.isdir(base):
        return sets, False
    def add(i, name):
        for tok in name.replace(",", " ").split():
            for p in basic_split(tok):
                if p[:1].isupper() and len(p) > 1:
                    sets[i].add(word_key(p))
    d = json.load(open(os.path.join(base, "iso_3166-1.json")))
    for e in d["3166-1"]:
        for k in ("name", "common_name", "official_name"):
            if k in e:
                add(0, e[k])
    d = json.load(open(os.path.join(base, "iso_3166-2.json")))
    for e in d["3166-2"]:
        add(1, e["name"])
    d = json.load(open(os.path.join(base, "iso_639-2.json")))
    for e in d["639-2"]:
        for n in e["name"].split(";"):
            add(2, n)
    return sets, True


# ---------------------------------------------------------------------------- word vectors
def gutenberg_words(log):
    d = os.path.join(SHARED, "corpus", "gutenberg")
    files = sorted(f for f in os.listdir(d) if f.endswith(".txt"))
    tok_re = re.compile(r"\w+|[^\w\s]", re.UNICODE)
    out = []
    for f in files:
        text = open(os.path.join(d, f), encoding="utf-8").read()
        out.extend(word_key(w) for w in tok_re.findall(text))
    log(f"gutenberg: {len(files)} books, {len(out):,} words")
    return out


def modern_sentences(log):
    """English sentence text that is here and is not CoNLL dev/test: CoNLL train (Reuters), MRPC (news),
    STS-B (news headlines, forums, captions), SICK (captions), SST-2 (film reviews); unique sentences."""
    import csv
    tok_re = re.compile(r"\w+|[^\w\s]", re.UNICODE)
    seen, out, per = set(), [], collections.Counter()
    def add(src, text):
        text = text.strip()
        if text and text not in seen:
            seen.add(text)
            out.append([word_key(w) for w in tok_re.findall(text)])
            per[src] += len(out[-1])
    for words, _ in read_conll(os.path.join(SHARED, "conll2003", "train.txt")):
        add("conll-train", " ".join(words))
    for f in ("train.tsv", "dev.tsv", "test.tsv"):
        with open(os.path.join(SHARED, "mrpc", f), encoding="utf-8-sig") as fh:
            for row in list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
                if len(row) >= 5:
                    add("mrpc", row[3])
                    add("mrpc", row[4])
    for f in ("sts-train.csv", "sts-dev.csv", "sts-test.csv"):
        for line in open(os.path.join(SHARED, "stsb", f), encoding="utf-8"):
            row = line.rstrip("\n").split("\t")
            if len(row) >= 7:
                add("stsb", row[5])
                add("stsb", row[6])
    for i, line in enumerate(open(os.path.join(SHARED, "sick", "SICK.txt"), encoding="utf-8")):
        row = line.rstrip("\n").split("\t")
        if i and len(row) >= 3:
            add("sick", row[1])
            add("sick", row[2])
    for f in ("train.tsv", "dev.tsv", "test.tsv"):
        for i, line in enumerate(open(os.path.join(SHARED, "sst2", f), encoding="utf-8")):
            row = line.rstrip("\n").split("\t")
            if i and row:
                add("sst2", row[0])
    log(f"modern text: {len(out):,} unique sentences, {sum(per.values()):,} words ("
        + ", ".join(f"{k} {v:,}" for k, v in per.items()) + ")")
    return out


def train_skipgram(args, log):
    path = os.path.join(CACHE, f"sgns-{args.wv_dim}-m{args.wv_modern_repeat}-e{args.wv_epochs}.pt")
    if os.path.exists(path):
        log(f"word vectors from cache {rel(path)}")
        return torch.load(path)
    t0 = time.time()
    words = gutenberg_words(log)
    if args.wv_modern_repeat > 0:
        modern = modern_sentences(log)
        rng = random.Random(args.seed)
        for r in range(args.wv_modern_repeat):
            rng.shuffle(modern)  # a different sentence order per copy, so windows do not repeat across copies
            for sent in modern:
                words.extend(sent)
        log(f"skip-gram corpus: Gutenberg + {args.wv_modern_repeat} x modern text = {len(words):,} words")
    cnt = collections.Counter(words)
    vocab = [w for w, c in cnt.most_common(args.wv_vocab) if c >= args.wv_min_count]
    idx = {w: i for i, w in enumerate(vocab)}
    freq = torch.tensor([cnt[w] for w in vocab], dtype=torch.float64)
    total = freq.sum()
    keep_p = ((args.wv_sample * total / freq).sqrt() + args.wv_sample * total / freq).clamp(max=1.0)
    ids = torch.tensor([idx.get(w, -1) for w in words], dtype=torch.long)
    ids = ids[ids >= 0]
    del words
    noise = (freq ** 0.75)
    noise = (noise / noise.sum()).float()
    V, D = len(vocab), args.wv_dim
    g = torch.Generator().manual_seed(args.seed)
    # plain tensors and hand-written SGNS gradients (faster than autograd with sparse embeddings);
    # negatives drawn from a unigram^0.75 table, as word2vec does
    w_in = (torch.rand(V, D, generator=g) - 0.5) / D
    w_out = torch.zeros(V, D)
    table = torch.multinomial(noise, 10_000_000, replacement=True, generator=g)
    log(f"skip-gram: vocab {V:,}, {ids.numel():,} corpus tokens, dim {D}, window {args.wv_window}, "
        f"{args.wv_epochs} epoch(s)")
    B, K = args.wv_batch, 5
    step = 0
    t_sgd = time.time()  # the time budget counts from t0; the learning rate decays over what is left of it
    for ep in range(args.wv_epochs):
        keep = torch.rand(ids.numel(), generator=g, dtype=torch.float64) < keep_p[ids]
        seq = ids[keep]
        n = seq.numel()
        centres, contexts = [], []
        for off in range(1, args.wv_window + 1):
            # dynamic window: offset `off` is used with probability (W - off + 1) / W
            pk = (args.wv_window - off + 1) / args.wv_window
            m = torch.rand(n - off, generator=g) < pk
            a, b = seq[:-off][m], seq[off:][m]
            centres += [a, b]
            contexts += [b, a]
        c = torch.cat(centres)
        x = torch.cat(contexts)
        del centres, contexts
        perm = torch.randperm(c.numel(), generator=g)
        c, x = c[perm], x[perm]
        del perm
        nb = (c.numel() + B - 1) // B
        log(f"skip-gram epoch {ep + 1}: {c.numel():,} pairs, {nb} batches")
        for bi in range(nb):
            # linear decay to 0 over the planned batches or the time budget, whichever ends first
            done = max((ep * nb + bi) / (args.wv_epochs * nb), (time.time() - t_sgd) / max(1.0, t0 + args.wv_max_seconds - t_sgd))
            lr = args.wv_lr * max(0.0001, 1 - done)
            cc, xx = c[bi * B:(bi + 1) * B], x[bi * B:(bi + 1) * B]
            neg = table[torch.randint(0, table.numel(), (cc.numel() * K,), generator=g)].view(-1, K)
            tgt = torch.cat([xx[:, None], neg], 1)
            vi = w_in[cc]
            vo = w_out[tgt]
            s = torch.bmm(vo, vi[:, :, None]).squeeze(2)
            gs = torch.sigmoid(s)
            gs[:, 0] -= 1  # d(-log sig(s0) - sum log sig(-sk)) / ds
            w_in.index_add_(0, cc, torch.bmm(gs[:, None, :], vo).squeeze(1), alpha=-lr)
            w_out.index_add_(0, tgt.reshape(-1), (gs[:, :, None] * vi[:, None, :]).reshape(-1, D), alpha=-lr)
            step += 1
            if bi % 1000 == 0:
                loss = -(F.logsigmoid(s[:, 0]).sum() + F.logsigmoid(-s[:, 1:]).sum())
                log(f"  batch {bi}/{nb} loss/pair {loss.item() / cc.numel():.3f} lr {lr:.4f} "
                    f"({time.time() - t0:.0f} s)")
            if time.time() - t0 > args.wv_max_seconds:
                log("  skip-gram time budget reached")
                break
        if time.time() - t0 > args.wv_max_seconds:
            break
    vec = w_in.clone()
    res = {"vocab": vocab, "vectors": vec}
    os.makedirs(CACHE, exist_ok=True)
    torch.save(res, path)
    log(f"skip-gram done in {time.time() - t0:.0f} s; neighbours: " + "; ".join(
        f"{w}: " + ", ".join(nearest(res, w, 4)) for w in ("london", "france", "monday", "captain", "john")
        if w in idx))
    return res


def nearest(res, w, k):
    idx = {x: i for i, x in enumerate(res["vocab"])}
    v = F.normalize(res["vectors"], dim=1)
    s = v @ v[idx[w]]
    top = s.topk(k + 1).indices.tolist()
    return [res["vocab"][i] for i in top if res["vocab"][i] != w][:k]


# ---------------------------------------------------------------------------- model
class Core(nn.Module):
    """BiLSTM-CNN-CRF emissions from word rows, characters and gazetteer bits."""

    def __init__(self, n_words, n_chars, n_gaz, args):
        super().__init__()
        self.word_emb = nn.Embedding(n_words, args.word_dim)
        self.char_emb = nn.Embedding(n_chars, args.char_dim, padding_idx=0)
        self.char_cnn = nn.Conv1d(args.char_dim, args.char_filters, 3, padding=1)
        self.gaz_dim = n_gaz
        self.dropout = nn.Dropout(args.dropout)
        self.lstm = nn.LSTM(args.word_dim + args.char_filters + n_gaz, args.hidden, batch_first=True,
                            bidirectional=True)
        self.proj = nn.Linear(2 * args.hidden, len(TAGS))

    def forward(self, words: torch.Tensor, chars: torch.Tensor, gaz: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        # words [B, W] rows; chars [B, W, C] (0 = padding); gaz [B, W, G]; lengths [B] words per row
        B, W, C = chars.shape
        ce = self.char_emb(chars.reshape(B * W, C)).transpose(1, 2)  # [BW, D, C]
        conv = self.char_cnn(ce)  # [BW, F, C]
        valid = (chars.reshape(B * W, 1, C) > 0)
        conv = conv.masked_fill(~valid, -1e4)
        cf = conv.max(dim=2).values  # [BW, F]
        cf = torch.where(valid.any(dim=2), cf, torch.zeros_like(cf)).view(B, W, -1)
        x = torch.cat([self.embed(words), cf, gaz], dim=2)
        x = self.dropout(x)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True,
                                                   enforce_sorted=False)
        hp, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(hp, batch_first=True, total_length=W)
        return self.proj(self.dropout(h))

    def embed(self, words: torch.Tensor) -> torch.Tensor:
        return self.word_emb(words)


class QCore(Core):
    """A trained Core whose word embedding is stored as int8 with one float scale per row (symmetric,
    scale = max |w| / 127): a quarter of the bytes of the table that holds almost all of the parameters."""

    def __init__(self, core: Core, n_words, n_chars, n_gaz, args):
        super().__init__(n_words, n_chars, n_gaz, args)
        sd = {k: v for k, v in core.state_dict().items() if k != "word_emb.weight"}
        w = core.word_emb.weight.detach()
        del self.word_emb
        self.load_state_dict(sd)
        scale = w.abs().max(dim=1).values / 127.0
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        self.register_buffer("wq", torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("ws", scale)

    def embed(self, words: torch.Tensor) -> torch.Tensor:
        return self.wq[words].float() * self.ws[words].unsqueeze(-1)


class Ensemble(nn.Module):
    """The mean emissions of several cores. With the members' CRF parameters averaged as well, Viterbi
    on the mean potentials finds the best sequence under the normalised product of the members' CRFs."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, words: torch.Tensor, chars: torch.Tensor, gaz: torch.Tensor,
                lengths: torch.Tensor) -> torch.Tensor:
        outs: List[torch.Tensor] = []
        for m in self.members:
            outs.append(m(words, chars, gaz, lengths))
        return torch.stack(outs).mean(dim=0)


class CRF(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.trans = nn.Parameter(torch.zeros(n, n))  # trans[i, j]: score of tag i followed by tag j
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))

    def nll(self, em, tags, mask):
        # em [B, W, T], tags [B, W], mask [B, W] bool (prefix masks)
        B, W, T = em.shape
        score = self.start[tags[:, 0]] + em[:, 0].gather(1, tags[:, :1]).squeeze(1)
        alpha = self.start[None] + em[:, 0]
        for t in range(1, W):
            m = mask[:, t]
            s = self.trans[tags[:, t - 1], tags[:, t]] + em[:, t].gather(1, tags[:, t:t + 1]).squeeze(1)
            score = score + s * m
            na = torch.logsumexp(alpha[:, :, None] + self.trans[None] + em[:, t, None, :], dim=1)
            alpha = torch.where(m[:, None], na, alpha)
        last = tags.gather(1, (mask.sum(1) - 1).clamp(min=0)[:, None]).squeeze(1)
        score = score + self.end[last]
        logz = torch.logsumexp(alpha + self.end[None], dim=1)
        return (logz - score).sum()

    def decode(self, em, mask):
        B, W, T = em.shape
        score = self.start[None] + em[:, 0]
        back = []
        for t in range(1, W):
            s = score[:, :, None] + self.trans[None]
            best, arg = s.max(dim=1)
            ns = best + em[:, t]
            m = mask[:, t][:, None]
            score = torch.where(m, ns, score)
            back.append(torch.where(m, arg, torch.arange(T)[None].expand(B, T)))
        score = score + self.end[None]
        out = []
        lens = mask.sum(1).tolist()
        best_last = score.argmax(1).tolist()
        for b in range(B):
            tag = best_last[b]
            path = [tag]
            for t in range(lens[b] - 1, 0, -1):
                tag = back[t - 1][b, tag].item()
                path.append(tag)
            out.append(path[::-1])
        return out


# ---------------------------------------------------------------------------- data
class Encoder:
    def __init__(self, chars, words, gaz_sets):
        self.chars = chars  # list of characters, index 2.. (0 pad, 1 unk)
        self.char_idx = {c: i + 2 for i, c in enumerate(chars)}
        self.words = words  # row 0 = unknown word
        self.word_idx = {w: i for i, w in enumerate(words)}
        self.gaz = gaz_sets

    def encode(self, words):
        w = [self.word_idx.get(word_key(x), 0) for x in words]
        c = [[self.char_idx.get(norm_char(ch), 1) for ch in x[:MAX_CNN_CHARS]] for x in words]
        g = [[1.0 if word_key(x) in s else 0.0 for s in self.gaz] for x in words]
        return w, c, g


def make_batch(items):
    B = len(items)
    W = max(len(it[0]) for it in items)
    C = max(len(cs) for it in items for cs in it[1])
    G = len(items[0][2][0])
    words = torch.zeros(B, W, dtype=torch.long)
    chars = torch.zeros(B, W, C, dtype=torch.long)
    gaz = torch.zeros(B, W, G)
    tags = torch.zeros(B, W, dtype=torch.long)
    lens = torch.zeros(B, dtype=torch.long)
    for b, it in enumerate(items):
        n = len(it[0])
        lens[b] = n
        words[b, :n] = torch.tensor(it[0])
        for i, cs in enumerate(it[1]):
            chars[b, i, :len(cs)] = torch.tensor(cs)
        gaz[b, :n] = torch.tensor(it[2])
        if len(it) > 3:
            tags[b, :n] = torch.tensor(it[3])
    mask = torch.arange(W)[None] < lens[:, None]
    return words, chars, gaz, tags, lens, mask


def case_variant(words, tags, mode):
    if mode == "lower":
        return [w.lower() for w in words], tags
    return [w.upper() for w in words], tags


def mention_pool(sents):
    """Distinct entity mentions (tuples of pre-tokenizer words) per type, from the given (train) sentences."""
    pool = collections.defaultdict(set)
    for words, tags in sents:
        for typ, s, e in chunks(tags):
            pool[typ].add(tuple(words[s:e]))
    return {t: sorted(v) for t, v in pool.items()}


def swap_spans(words, tags, spans, make):
    """Each (type, start, end) span becomes the words make(type) returns, tagged B-X I-X ... over its own
    length; the rest of the sentence stays. In an all-capitals sentence (a headline) the new words are
    upper-cased too."""
    if not spans:
        return words, tags
    caps = all(w.upper() == w for w in words)
    ow, ot, pos = [], [], 0
    for typ, s, e in spans:
        ow += words[pos:s]
        ot += tags[pos:s]
        m = list(make(typ))
        ow += [x.upper() for x in m] if caps else m
        ot += ["B-" + typ] + ["I-" + typ] * (len(m) - 1)
        pos = e
    ow += words[pos:]
    ot += tags[pos:]
    return ow, ot


def replace_mentions(words, tags, pool, rng):
    """Mention replacement (Dai & Adel 2020): every entity mention becomes a random mention of the same
    type from the pool."""
    return swap_spans(words, tags, chunks(tags), lambda typ: rng.choice(pool[typ]))


# Person names of many origins for --name-replace: given names and family names, in the order they
# are written in English-language news ("family" first for the Chinese, Korean and Vietnamese lists).
# Written for this script; kept apart from the bias check's names (train_person_names() drops any
# token of BIAS_NAMES), so the bias check still measures names the model has not been shown.
AUG_NAMES = {
    "west-african": ("Adebayo Babajide Chiamaka Emeka Folake Ifeoma Nnamdi Olumide Tunde Uchenna Funmilayo "
                     "Kehinde Obinna Zainab Musa Aminu Hauwa Ibrahim Efua Kwabena Akua Yaw Ama Kojo Esi Nana",
                     "Adewale Okeke Eze Obi Nwachukwu Afolabi Ogunleye Bello Abubakar Danjuma Ibekwe Onyeka "
                     "Asante Appiah Darko Ofori Acheampong Agyeman Bonsu Osei Ansah Mensa Quaye Tetteh", False),
    "east-african": ("Wanjiru Kamau Otieno Achieng Baraka Njeri Tesfaye Abebe Meseret Haile Amani Zawadi "
                     "Juma Neema Kiprop Chebet Dawit Selam Tadesse Makena",
                     "Mwangi Odhiambo Kiplagat Wambui Njoroge Onyango Kariuki Gebremedhin Bekele Girma "
                     "Mutua Ochieng Kibet Korir Wekesa Alemu Desta Mekonnen Kimani Chege", False),
    "south-asian": ("Aarav Ishaan Kavya Meera Rohan Sanjay Lakshmi Ravi Pooja Nikhil Shreya Karthik Divya "
                    "Manoj Anjali Suresh Farhan Ayesha Imran Sadia Tanvir Nusrat Harpreet Gurpreet",
                    "Verma Joshi Mehta Desai Rao Pillai Menon Chatterjee Banerjee Mukherjee Bhat Kulkarni "
                    "Agarwal Malhotra Kapoor Chowdhury Hossain Qureshi Siddiqui Khan Rahim Bhatt Ghosh", False),
    "chinese": ("Wang Li Zhang Liu Chen Yang Zhao Huang Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao",
                "Jianguo Xiaoming Hui Fang Jun Tao Yan Ping Qiang Xiuying Haoran Yifan Zihan Jie Lei Min "
                "Ling Bo Rui Hong", True),
    "korean": ("Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Shin Seo Kwon Hwang",
               "Min-jun Seo-yeon Ji-hoon Soo-jin Hyun-woo Eun-ji Dong-hyun Ha-eun Jae-won Yu-na Sung-min "
               "Hye-jin Tae-yang Ji-woo", True),
    "japanese": ("Haruto Sota Yuto Riku Sakura Hina Yui Akira Naoki Shota Misaki Ayaka Ren Kaito Emi Kenta "
                 "Takumi Nanami Hayato Rina",
                 "Takahashi Ito Kato Yoshida Yamada Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu "
                 "Yamazaki Mori Ikeda Hashimoto Ishikawa Ogawa Fujita Okada", False),
    "vietnamese": ("Nguyen Tran Le Pham Hoang Huynh Phan Vu Vo Dang Bui Do Ho Ngo Duong Ly",
                   "Van Thi Minh Quang Thanh Ngoc Duc Hoai Xuan Kim Huu Anh Tuan Linh Phuong Trung Dung Thu "
                   "Hieu Khanh Nam Long", True),
    "southeast-asian": ("Siti Budi Agus Dewi Wayan Putu Rizal Maria Jose Angelica Somchai Suda Niran Arun "
                        "Nurul Ahmad Farid Intan",
                        "Santoso Wijaya Susanto Hidayat Setiawan Reyes Santos Cruz Bautista Ocampo "
                        "Srisuk Chaiyaporn Wongsawat Rahmat Ismail Hassan Abdullah Ramos", False),
    "arabic-persian-turkish": ("Khalid Samir Nadia Rania Tariq Hamza Salma Yasmin Karim Hassan Leila Reza "
                               "Dariush Shirin Mehmet Ayse Emre Elif Mustafa Zeynep Bilal Huda Noor Faisal",
                               "Al-Sayed El-Masri Haddad Khoury Aziz Hamdan Nasr Suleiman Farouk Qasim "
                               "Tehrani Karimi Hosseini Moradi Yilmaz Demir Kaya Celik Sahin Ozturk Aydin "
                               "Barakat Darwish Jaber", False),
    "latin-american-iberian": ("Valentina Mateo Santiago Camila Diego Sofia Joaquin Ximena Rodrigo Paola "
                               "Andres Gabriela Fernando Beatriz Joao Thiago Larissa Luiz Rafaela Ines",
                               "Gonzalez Fernandez Torres Flores Rivera Gomez Diaz Morales Vargas Castillo "
                               "Jimenez Ruiz Silva Oliveira Souza Pereira Costa Ferreira Almeida Carvalho "
                               "Mendoza Guzman Herrera Aguilar", False),
    "european": ("Olga Dmitri Sergei Natalia Piotr Agnieszka Tomasz Katarzyna Nikos Eleni Lars Ingrid Sven "
                 "Astrid Giulia Marco Francesca Luca Pieter Anouk Bogdan Ioana Janos Zsofia",
                 "Ivanov Petrova Smirnov Kowalski Nowak Wisniewska Papadopoulos Georgiou Johansson Nilsson "
                 "Andersen Rossi Bianchi Esposito Romano Janssen Visser Popescu Ionescu Nagy Horvath "
                 "Novak Dvorak Kovac", False),
    "anglophone": ("Olivia Liam Noah Ava Ethan Chloe Mason Grace Lucas Zoe Connor Aisling Siobhan Declan "
                   "Tyrone Keisha Jamal Latoya Darnell Imani",
                   "Anderson Thomas Jackson White Harris Martin Thompson Robinson Clark Lewis Walker Hall "
                   "O'Brien Murphy Kelly Byrne Washington Jefferson Okoro Banks", False),
}


def train_person_names():
    """(given names, family names, family-first) per origin of AUG_NAMES, without any token of the bias
    check's names."""
    held_out = {t.lower() for names in BIAS_NAMES.values() for n in names for t in re.split(r"[\s-]+", n)}
    out = {}
    for origin, (first, last, family_first) in AUG_NAMES.items():
        keep = lambda xs: [x for x in xs.split() if not any(t.lower() in held_out for t in re.split(r"-", x))]
        out[origin] = (keep(first), keep(last), family_first)
    return out


def synthetic_person(names, rng):
    """One person name as pre-tokenizer words: given + family (or family + given + given for the
    family-first origins), or the family name alone as news writes a later mention."""
    first, last, family_first = names[rng.choice(sorted(names))]
    if family_first:
        fam = rng.choice(first)
        given = [rng.choice(last)] + ([rng.choice(last)] if rng.random() < 0.3 else [])
        parts = [fam] + given if rng.random() < 0.85 else [fam]
    else:
        parts = [rng.choice(first), rng.choice(last)] if rng.random() < 0.85 else [rng.choice(last)]
    return [w for part in parts for w in basic_split(part)]


def replace_persons(words, tags, names, rng):
    """Every PER mention becomes a synthetic name of AUG_NAMES (B-PER I-PER ...); other mentions stay."""
    return swap_spans(words, tags, [x for x in chunks(tags) if x[0] == "PER"],
                      lambda typ: synthetic_person(names, rng))


def rel(p):
    return os.path.relpath(p, ROOT)


def evaluate(core, crf, enc, sents, batch_size=64):
    core.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(sents), batch_size):
            items = [enc.encode(w) for w, _ in sents[i:i + batch_size]]
            words, chars, gaz, _, lens, mask = make_batch(items)
            em = core(words, chars, gaz, lens)
            for p in crf.decode(em, mask):
                preds.append([TAGS[t] for t in p])
    return f1_score([t for _, t in sents], preds), preds


# ---------------------------------------------------------------------------- training
def train(args, log):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    t_start = time.time()
    conll = os.path.join(SHARED, "conll2003")
    train_s = [to_basic(s) for s in read_conll(os.path.join(conll, "train.txt"))]
    dev_s = [to_basic(s) for s in read_conll(os.path.join(conll, "dev.txt"))]
    log(f"train {len(train_s)} sentences / {sum(len(w) for w, _ in train_s):,} pre-tokenizer words; "
        f"dev {len(dev_s)} / {sum(len(w) for w, _ in dev_s):,}")
    gaz_sets, have_gaz = gazetteers()
    log(f"gazetteers (iso-codes): countries {len(gaz_sets[0])}, subdivisions {len(gaz_sets[1])}, "
        f"languages {len(gaz_sets[2])} word keys" + ("" if have_gaz else " (iso-codes not installed)"))
    init = torch.load(args.init) if args.init else None
    wv = train_skipgram(args, log) if args.wv_dim > 0 and init is None else None

    # character set: fixed ranges + every character of train
    chars = set()
    for w, _ in train_s:
        for x in w:
            chars.update(norm_char(c) for c in x)
    for lo, hi in ((0x21, 0x7E), (0xA1, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x2010, 0x205E),
                   (0x20A0, 0x20BF)):
        for o in range(lo, hi + 1):
            c = chr(o)
            if unicodedata.category(c)[0] in "LNPS" and c not in TYPO:
                chars.add(c)
    chars = sorted(chars)
    # word vocabulary: train words, pretrained words, gazetteer words
    cnt = collections.Counter(word_key(x) for w, _ in train_s for x in w)
    words = ["<unk>"]
    seen = set(words)
    def add(k):
        if k not in seen and all(c in set(chars) or c == "0" for c in k):
            seen.add(k)
            words.append(k)
    for k, _ in cnt.most_common():
        add(k)
    n_train_words = len(words)
    if wv is not None:
        for k in wv["vocab"][:args.wv_keep]:
            add(k)
    for s in gaz_sets:
        for k in sorted(s):
            add(k)
    if init is not None:
        if init["chars"] != chars or init["words"][:n_train_words] != words[:n_train_words]:
            raise SystemExit(f"--init {args.init}: the checkpoint's vocabulary is not this data's")
        words = init["words"]
        log(f"--init {rel(args.init)}: fine-tuning its weights (epoch {init.get('epoch')}, dev F1 "
            f"{init.get('dev_f1', 0):.2f}), vocabulary and character set from the checkpoint")
    enc = Encoder(chars, words, gaz_sets)
    log(f"chars {len(chars)}; words {len(words):,} ({n_train_words:,} from train)")

    core = Core(len(words), len(chars) + 2, len(gaz_sets), args)
    crf = CRF(len(TAGS))
    # initialise embeddings from skip-gram vectors (scaled to the init's std)
    if wv is not None:
        widx = {w: i for i, w in enumerate(wv["vocab"])}
        vec = wv["vectors"]
        vec = vec / vec.std() * args.wv_scale
        hit = 0
        with torch.no_grad():
            for i, w in enumerate(words):
                j = widx.get(w)
                if j is not None:
                    core.word_emb.weight[i] = vec[j]
                    hit += 1
        log(f"embeddings: {hit:,} of {len(words):,} rows from skip-gram")
    if init is not None:
        core.load_state_dict(init["core"])
        crf.load_state_dict(init["crf"])
    params = list(core.parameters()) + list(crf.parameters())
    n_params = sum(p.numel() for p in params)
    log(f"model: {n_params:,} parameters; args {vars(args)}")
    opt = torch.optim.Adam(params, lr=args.lr)
    train_enc = [enc.encode(w) + ([TAG_ID[t] for t in tg],) for w, tg in train_s]
    singles = {i for i, (k, c) in enumerate(cnt.items()) if c == 1}
    singleton_rows = {enc.word_idx[k] for k, c in cnt.items() if c == 1 and (wv is None or k not in widx)}
    pool = mention_pool(train_s) if args.mention_replace > 0 else None  # train only: never dev/test
    person_names = train_person_names() if args.name_replace > 0 else None
    if person_names:
        log(f"person-name replacement: {args.name_replace} of the sentences with a PER mention per epoch; "
            + ", ".join(f"{o} {len(f)}+{len(l)}" for o, (f, l, _) in person_names.items()))
    if pool:
        log(f"mention replacement: {args.mention_replace} of the sentences per epoch; pool of distinct train "
            "mentions " + ", ".join(f"{t} {len(pool[t]):,}" for t in sorted(pool)))
    best = -1.0
    best_epoch = 0
    ckpt = os.path.join(CACHE, "best.pt")
    os.makedirs(CACHE, exist_ok=True)
    order = list(range(len(train_s)))
    dev_hist = {}
    for f in os.listdir(CACHE):
        if re.fullmatch(r"epoch-\d+\.pt", f):
            os.remove(os.path.join(CACHE, f))
    torch.save({"chars": chars, "words": words, "gaz": [sorted(s) for s in gaz_sets], "args": vars(args),
                "n_params": n_params, "n_train_words": n_train_words, "cmd": " ".join(sys.argv)},
               os.path.join(CACHE, "meta.pt"))
    for ep in range(1, args.epochs + 1):
        core.train()
        t0 = time.time()
        lr = args.lr / (1 + args.lr_decay * (ep - 1))
        for gparam in opt.param_groups:
            gparam["lr"] = lr
        rng.shuffle(order)
        # length-bucketed batches: sort chunks of 50 batches by length
        chunk = args.batch_size * 50
        batches = []
        for i in range(0, len(order), chunk):
            part = sorted(order[i:i + chunk], key=lambda j: len(train_s[j][0]))
            batches += [part[k:k + args.batch_size] for k in range(0, len(part), args.batch_size)]
        rng.shuffle(batches)
        total = 0.0
        for bi, b in enumerate(batches):
            items = []
            for j in b:
                w, tg = train_s[j]
                swapped = pool is not None and rng.random() < args.mention_replace
                if swapped:
                    w, tg = replace_mentions(w, tg, pool, rng)
                if person_names is not None and "B-PER" in tg and rng.random() < args.name_replace:
                    w, tg = replace_persons(w, tg, person_names, rng)
                    swapped = True
                r = rng.random()
                if r < args.case_aug:
                    w, tg = case_variant(w, tg, "lower" if r < args.case_aug / 2 else "upper")
                    items.append(enc.encode(w) + ([TAG_ID[t] for t in tg],))
                else:
                    it = enc.encode(w) + ([TAG_ID[t] for t in tg],) if swapped else train_enc[j]
                    wrows = [0 if (x in singleton_rows and rng.random() < args.unk_replace) else x for x in it[0]]
                    items.append((wrows,) + it[1:])
            words_t, chars_t, gaz_t, tags_t, lens_t, mask_t = make_batch(items)
            em = core(words_t, chars_t, gaz_t, lens_t)
            loss = crf.nll(em, tags_t, mask_t) / len(b)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, args.clip)
            opt.step()
            total += loss.item() * len(b)
            if args.max_minutes and (time.time() - t_start) / 60 > args.max_minutes:
                break
        (f1, p, r), _ = evaluate(core, crf, enc, dev_s)
        msg = (f"epoch {ep}: {bi + 1}/{len(batches)} batches, loss {total / len(train_s):.3f} lr {lr:.5f} dev F1 {f1:.2f} (P {p:.2f} R {r:.2f}) "
               f"{time.time() - t0:.0f} s, total {(time.time() - t_start) / 60:.1f} min")
        dev_hist[ep] = f1
        torch.save({"core": core.state_dict(), "crf": crf.state_dict(), "dev_f1": f1, "dev_p": p, "dev_r": r,
                    "minutes": (time.time() - t_start) / 60}, os.path.join(CACHE, f"epoch-{ep}.pt"))
        if f1 > best:
            best, best_epoch = f1, ep
            torch.save({"core": core.state_dict(), "crf": crf.state_dict(), "chars": chars, "words": words,
                        "gaz": [sorted(s) for s in gaz_sets], "args": vars(args), "epoch": ep, "dev_f1": f1,
                        "dev_p": p, "dev_r": r, "n_params": n_params, "n_train_words": n_train_words,
                        "minutes": (time.time() - t_start) / 60, "cmd": " ".join(sys.argv)}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)
            msg += " *best, saved"
        log(msg)
        if args.max_minutes and (time.time() - t_start) / 60 > args.max_minutes:
            log(f"time budget of {args.max_minutes} min reached")
            break
        if ep - best_epoch >= args.patience:
            log(f"no dev gain for {args.patience} epochs")
            break
    log(f"best dev F1 {best:.2f} at epoch {best_epoch}; checkpoint {rel(ckpt)}")
    if args.average:
        average(args, log)


def average(args, log):
    """Checkpoint averaging (chosen on dev): the mean weights of the last k epochs and of the k best
    epochs, k = 2..8; the best of these and of the single best epoch becomes best.pt."""
    torch.set_num_threads(args.threads)
    meta = torch.load(os.path.join(CACHE, "meta.pt"))
    a = argparse.Namespace(**meta["args"])
    snaps = {}
    for f in os.listdir(CACHE):
        m = re.fullmatch(r"epoch-(\d+)\.pt", f)
        if m:
            snaps[int(m.group(1))] = os.path.join(CACHE, f)
    hist = {e: torch.load(pth)["dev_f1"] for e, pth in snaps.items()}
    eps = sorted(hist)
    ranked = sorted(eps, key=lambda e: -hist[e])
    cands = []
    for k in range(2, 9):
        if len(eps) >= k:
            cands.append(("last", eps[-k:]))
            cands.append(("best", sorted(ranked[:k])))
    conll = os.path.join(SHARED, "conll2003")
    dev_s = [to_basic(s) for s in read_conll(os.path.join(conll, "dev.txt"))]
    gaz_sets = [set(g) for g in meta["gaz"]]
    enc = Encoder(meta["chars"], meta["words"], gaz_sets)
    core = Core(len(meta["words"]), len(meta["chars"]) + 2, len(gaz_sets), a)
    crf = CRF(len(TAGS))
    b1 = torch.load(snaps[ranked[0]])
    best = (b1["dev_f1"], b1["dev_p"], b1["dev_r"], ranked[0], [ranked[0]])
    tried = set()
    for kind, group in cands:
        if tuple(group) in tried:
            continue
        tried.add(tuple(group))
        sds = [torch.load(snaps[e]) for e in group]
        for name, mod in (("core", core), ("crf", crf)):
            mod.load_state_dict({k: sum(sd[name][k].float() for sd in sds) / len(sds) for k in sds[0][name]})
        (f1, p, r), _ = evaluate(core, crf, enc, dev_s)
        log(f"average of the {kind} {len(group)} epochs {group}: dev F1 {f1:.2f} (P {p:.2f} R {r:.2f})")
        if f1 > best[0]:
            best = (f1, p, r, f"mean of {','.join(map(str, group))}", group)
    f1, p, r, label, group = best
    sds = [torch.load(snaps[e]) for e in group]
    avg = {name: {k: sum(sd[name][k].float() for sd in sds) / len(sds) for k in sds[0][name]}
           for name in ("core", "crf")}
    torch.save(dict(meta, core=avg["core"], crf=avg["crf"], epoch=label, dev_f1=f1, dev_p=p, dev_r=r,
                    minutes=max(torch.load(snaps[e])["minutes"] for e in eps)),
               os.path.join(CACHE, "best.pt.tmp"))
    os.replace(os.path.join(CACHE, "best.pt.tmp"), os.path.join(CACHE, "best.pt"))
    log(f"chosen on dev: epoch {label}, dev F1 {f1:.2f} (P {p:.2f} R {r:.2f}); written to {rel(os.path.join(CACHE, 'best.pt'))}")


# ---------------------------------------------------------------------------- export
class Tagger(nn.Module):
    """The bundle's module: character ids of the bundle's WordPiece vocab.txt in, per-token emissions out.

    ids [B, L] (with [CLS]/[SEP]/[PAD], which are ignored), mask [B, L] -> logits [B, L, 9]: every
    character of a word carries its word's CRF emissions (the C++ side reads the first one).
    """

    def __init__(self, core: Core, kind, char_of, key_of, keys, rows, gaz):
        super().__init__()
        self.core = core
        self.register_buffer("kind", kind)        # per id: 0 special/padding, 1 word start, 2 continuation, 3 [UNK]
        self.register_buffer("char_of", char_of)  # per id: CNN character index (0 none, 1 unknown)
        self.register_buffer("key_of", key_of)    # per id: index of the lower-cased, digit-folded character (>= 1)
        self.register_buffer("pow1", torch.tensor([pow(P1, i, M1) for i in range(MAX_WORD_CHARS + 2)], dtype=torch.long))
        self.register_buffer("pow2", torch.tensor([pow(P2, i, M2) for i in range(MAX_WORD_CHARS + 2)], dtype=torch.long))
        self.register_buffer("keys", keys)        # sorted word hashes
        self.register_buffer("rows", rows)        # embedding row of each hash
        self.register_buffer("gaz", gaz)          # per embedding row: gazetteer bits
        self.num_tags = len(TAGS)
        self.max_cnn = MAX_CNN_CHARS
        self.max_word = MAX_WORD_CHARS
        self.m1 = M1
        self.m2 = M2

    def words(self, ids: torch.Tensor, mask: torch.Tensor):
        B, L = ids.shape
        kind = self.kind[ids] * (mask != 0).long()
        start = (kind == 1) | (kind == 3)
        widx = torch.cumsum(start.long(), dim=1) - 1
        valid = (kind > 0) & (widx >= 0)
        nw = start.long().sum(dim=1)
        W = int(nw.max().item()) if B > 0 else 0
        wi = torch.where(valid, widx, torch.full_like(widx, W))
        ar = torch.arange(L, device=ids.device).unsqueeze(0).expand(B, L)
        start_pos = torch.zeros(B, W + 1, dtype=torch.long, device=ids.device)
        start_pos.scatter_(1, torch.where(start & valid, wi, torch.full_like(wi, W)), ar)
        pos = torch.where(valid, ar - start_pos.gather(1, wi), torch.zeros_like(ar))
        return kind, start, valid, nw, W, wi, pos

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L = ids.shape
        kind, start, valid, nw, W, wi, pos = self.words(ids, mask)
        if W == 0:
            return torch.zeros(B, L, self.num_tags, device=ids.device)
        # characters for the CNN: [B, W, C]
        wlen = torch.zeros(B, W + 1, dtype=torch.long, device=ids.device).scatter_add_(1, wi, valid.long())
        C = min(max(int(wlen[:, :W].max().item()), 1), self.max_cnn)
        dump = (W + 1) * C
        target = torch.where(valid & (pos < C), wi * C + pos, torch.full_like(pos, dump))
        chars = torch.zeros(B, dump + 1, dtype=torch.long, device=ids.device)
        chars.scatter_(1, target, self.char_of[ids])
        chars = chars[:, :W * C].reshape(B, W, C)
        # word hashes -> embedding rows
        kc = self.key_of[ids]
        p = pos.clamp(max=self.max_word + 1)
        zero = torch.zeros_like(kc)
        h1 = torch.zeros(B, W + 1, dtype=torch.long, device=ids.device).scatter_add_(
            1, wi, torch.where(valid, kc * self.pow1[p], zero)) % self.m1
        h2 = torch.zeros(B, W + 1, dtype=torch.long, device=ids.device).scatter_add_(
            1, wi, torch.where(valid, kc * self.pow2[p], zero)) % self.m2
        key = (h1 * self.m2 + h2)[:, :W]
        ix = torch.searchsorted(self.keys, key.contiguous()).clamp(max=self.keys.numel() - 1)
        found = self.keys[ix] == key
        rows = torch.where(found, self.rows[ix], torch.zeros_like(ix))
        unk = torch.zeros(B, W + 1, dtype=torch.long, device=ids.device).scatter_(
            1, torch.where(start & valid, wi, torch.full_like(wi, W)), (kind == 3).long())[:, :W]
        rows = torch.where(unk > 0, torch.zeros_like(rows), rows)
        em = self.core(rows, chars, self.gaz[rows], nw)  # [B, W, T]
        out = em.gather(1, wi.clamp(max=W - 1).unsqueeze(2).expand(B, L, self.num_tags))
        return out * valid.unsqueeze(2).float()


def vocab_chars(chars):
    """The characters of the bundle's vocab.txt: the CNN's, the typographic ones it folds, combining marks."""
    extra = set(TYPO) | {chr(o) for o in range(0x300, 0x370)}
    return sorted(set(chars) | extra)


def wordpiece_ids(words, vocab_index):
    """What sense's WordPiece tokenizer makes of pre-tokenizer words with the character vocab: [CLS] ... [SEP]."""
    ids = [vocab_index["[CLS]"]]
    for w in words:
        if len(w) > MAX_WORD_CHARS or any(c not in vocab_index for c in w):
            ids.append(vocab_index["[UNK]"])
            continue
        ids.append(vocab_index[w[0]])
        ids.extend(vocab_index["##" + c] for c in w[1:])
    ids.append(vocab_index["[SEP]"])
    return ids


def hash_key(kidx):
    h1 = sum(k * pow(P1, i, M1) for i, k in enumerate(kidx)) % M1
    h2 = sum(k * pow(P2, i, M2) for i, k in enumerate(kidx)) % M2
    return h1 * M2 + h2


def build_tagger(ck, log):
    args = argparse.Namespace(**ck["args"])
    chars, words = ck["chars"], ck["words"]
    gaz_sets = [set(g) for g in ck["gaz"]]
    core = Core(len(words), len(chars) + 2, len(gaz_sets), args)
    core.load_state_dict(ck["core"])
    core.eval()
    char_idx = {c: i + 2 for i, c in enumerate(chars)}
    vchars = vocab_chars(chars)
    vocab = SPECIALS + [x for c in vchars for x in (c, "##" + c)]
    vocab_index = {p: i for i, p in enumerate(vocab)}
    V = len(vocab)
    kind = torch.zeros(V, dtype=torch.long)
    char_of = torch.zeros(V, dtype=torch.long)
    key_of = torch.ones(V, dtype=torch.long)
    kind[vocab_index["[UNK]"]] = 3
    char_of[vocab_index["[UNK]"]] = 1
    for c in vchars:
        for piece, k in ((c, 1), ("##" + c, 2)):
            i = vocab_index[piece]
            kind[i] = k
            char_of[i] = char_idx.get(norm_char(c), 1)
            key_of[i] = char_idx.get(key_char(c), 1)
    # hash table of the word vocabulary (row 0, <unk>, is the fallback)
    table = {}
    skipped = 0
    for r, w in enumerate(words):
        if r == 0:
            continue
        kidx = [char_idx.get(c, 1) for c in w]
        if 1 in kidx or len(w) > MAX_WORD_CHARS:
            skipped += 1
            continue
        h = hash_key(kidx)
        if h in table:
            raise RuntimeError(f"hash collision between {words[table[h]]!r} and {w!r}")
        table[h] = r
    hs = sorted(table)
    keys = torch.tensor(hs, dtype=torch.long)
    rows = torch.tensor([table[h] for h in hs], dtype=torch.long)
    gaz = torch.tensor([[1.0 if w in s else 0.0 for s in gaz_sets] for w in words])
    log(f"export: vocab.txt {V} entries ({len(vchars)} characters); hash table {len(hs):,} words, no collisions"
        + (f", {skipped} unreachable" if skipped else ""))
    tagger = Tagger(core, kind, char_of, key_of, keys, rows, gaz).eval()
    return tagger, vocab, vocab_index, core, gaz_sets, chars, words


def export(args, log):
    torch.set_num_threads(args.threads)
    ck = torch.load(os.path.join(CACHE, "best.pt"))
    tagger, vocab, vocab_index, core, gaz_sets, chars, words = build_tagger(ck, log)
    crf = CRF(len(TAGS))
    crf.load_state_dict(ck["crf"])
    enc = Encoder(chars, words, gaz_sets)
    a = argparse.Namespace(**ck["args"])
    notes = (f"BiLSTM {a.hidden}x2, {a.word_dim}-d word embeddings ({len(words):,} words, lower-cased, digits "
             f"as 0), character CNN {a.char_filters} filters width 3 over {a.char_dim}-d embeddings, 3 "
             f"gazetteer bits, CRF with start/end scores; {ck['n_params']:,} parameters; dev-chosen epoch(s) "
             f"{ck['epoch']}, {ck['minutes']:.0f} min at 1 thread on a shared 2-core machine. " + TOKENIZER_NOTE)
    write_bundle(args, log, tagger, core, crf, enc, vocab, vocab_index,
                 f"checkpoint epoch {ck['epoch']} dev F1 {ck['dev_f1']:.2f}", ck["cmd"] + " ; scripts/train_ner.py export",
                 "BiLSTM-CNN-CRF over words of sense's pre-tokenizer", notes)


TOKENIZER_NOTE = ("Tokenizer: character-level WordPiece vocab (c / ##c); the module regroups characters into "
                  "words and hashes each word's lower-cased spelling to find its embedding row.")


def write_bundle(args, log, tagger, core, crf, enc, vocab, vocab_index, what, command, arch, notes):
    """Scripts the tagger, checks it against the training path on all of dev, and packs the bundle."""
    scripted = torch.jit.script(tagger)
    conll = os.path.join(SHARED, "conll2003")
    dev_s = [to_basic(s) for s in read_conll(os.path.join(conll, "dev.txt"))]
    # contract: the scripted wrapper on character ids == the training path on words, batched and alone
    worst = 0.0
    preds = []
    with torch.no_grad():
        for i in range(0, len(dev_s), 64):
            part = dev_s[i:i + 64]
            seqs = [wordpiece_ids(w, vocab_index) for w, _ in part]
            L = max(len(x) for x in seqs)
            ids = torch.zeros(len(seqs), L, dtype=torch.long)
            mask = torch.zeros(len(seqs), L, dtype=torch.long)
            for b, x in enumerate(seqs):
                ids[b, :len(x)] = torch.tensor(x)
                mask[b, :len(x)] = 1
            out = scripted(ids, mask)
            items = [enc.encode(w) for w, _ in part]
            wt, ct, gt, _, lt, mt = make_batch(items)
            em = core(wt, ct, gt, lt)
            for b, x in enumerate(seqs):
                # first character of each word: positions where the id is a word start
                starts = [p for p, t in enumerate(x) if tagger.kind[t].item() in (1, 3)]
                n = len(part[b][0])
                assert len(starts) == n, (len(starts), n)
                worst = max(worst, (out[b, starts] - em[b, :n]).abs().max().item())
            emw = torch.zeros(len(part), wt.shape[1], len(TAGS))
            for b, x in enumerate(seqs):
                starts = [p for p, t in enumerate(x) if tagger.kind[t].item() in (1, 3)]
                emw[b, :len(starts)] = out[b, starts]
            for p in crf.decode(emw, mt):
                preds.append([TAGS[t] for t in p])
        empty = scripted(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long))
        specials_only = scripted(torch.tensor([[2, 3]]), torch.ones(1, 2, dtype=torch.long))
    f1, pr, rc = f1_score([t for _, t in dev_s], preds)
    assert worst < 1e-4, f"wrapper differs from the training path by {worst}"
    assert torch.isfinite(empty).all() and torch.isfinite(specials_only).all()
    log(f"export contract: scripted character path vs training path max |diff| {worst:.2e}; "
        f"dev F1 through the wrapper {f1:.2f} (P {pr:.2f} R {rc:.2f}); {what}")
    trans = [[round(v, 6) for v in row] for row in crf.trans.detach().tolist()]
    meta = {
        "schema_version": 1, "task": "token_classification", "name": "ner-conll2003", "version": "1.0.0",
        "description": f"English named entities (PER, ORG, LOC, MISC): {arch}, trained on CoNLL-2003 (Reuters "
                       "news) with skip-gram word vectors and iso-codes gazetteer features.",
        "labels": TAGS,
        "inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, -1]},
                   {"name": "mask", "dtype": "int64", "shape": [-1, -1]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, -1, len(TAGS)]}],
        "text": {"tokenizer": {"type": "wordpiece", "asset": "vocab.txt", "lowercase": False,
                               "strip_accents": False},
                 "max_length": args.max_length, "truncation": "window", "window_stride": args.window_stride,
                 "padding": "longest", "pad_id": 0, "input_names": {"ids": "ids", "mask": "mask"}},
        "output": {"name": "logits", "type": "token_logits", "activation": "softmax"},
        "token_classification": {"scheme": "bio", "aggregation": "first", "transitions": trans,
                                 "start_scores": [round(v, 6) for v in crf.start.detach().tolist()],
                                 "end_scores": [round(v, 6) for v in crf.end.detach().tolist()]},
        "assets": ["vocab.txt"],
        "provenance": {
            "training_data": "CoNLL-2003 English train (eng.train, 14,041 sentences, Reuters 1996-97; Tjong Kim Sang "
                             "& De Meulder 2003), model selection on dev (eng.testa); word vectors: skip-gram on 79 "
                             "Project Gutenberg books (public domain) and, when --wv-modern-repeat > 0, the sentence "
                             "text of CoNLL-2003 train, MRPC, STS-B, SICK and SST-2; gazetteers: Debian iso-codes (ISO 3166-1, "
                             "3166-2, 639-2 names; LGPL-2.1)",
            "script": "scripts/train_ner.py",
            "command": command,
            "created": datetime.date.today().isoformat(),
            "license": "CoNLL-2003 annotations: research use (the Reuters text needs the RCV1 agreement)",
            "framework": f"torch {torch.__version__} (Debian python3-torch)",
            "metrics": {"conll2003_dev_f1_python": round(f1, 2)},
            "notes": notes,
        },
    }
    sys.path.insert(0, HERE)
    from pack_model import pack, load
    vocab_bytes = ("\n".join(vocab) + "\n").encode("utf-8")
    pack(scripted, meta, {"vocab.txt": vocab_bytes}, args.out)
    loaded, extra = load(args.out, ["vocab.txt"])
    assert extra["vocab.txt"] == vocab_bytes
    log(f"wrote {rel(args.out)} ({os.path.getsize(args.out) / 1e6:.2f} MB)")


# ---------------------------------------------------------------------------- ensemble
def load_member(path):
    """A trained model as (state of Core, state of CRF, checkpoint or None, tagger buffers or None): a training
    checkpoint (best.pt of the train/average steps) or a packed sense bundle of this script."""
    extra = {"sense.json": ""}
    try:
        mod = torch.jit.load(path, _extra_files=extra)
    except RuntimeError:
        mod = None
    if mod is not None and extra["sense.json"]:
        tc = json.loads(extra["sense.json"])["token_classification"]
        crf = {"trans": torch.tensor(tc["transitions"]), "start": torch.tensor(tc["start_scores"]),
               "end": torch.tensor(tc["end_scores"])}
        bufs = {k: getattr(mod, k) for k in ("kind", "char_of", "key_of", "keys", "rows", "gaz")}
        return mod.core.state_dict(), crf, None, bufs
    ck = torch.load(path)
    return ck["core"], ck["crf"], ck, None


def ensemble(args, log):
    """Packs the mean of several trained models (same vocabulary; different seeds) as one bundle: every
    subset of up to --max-members of --members is scored on dev and the best subset (or the best single model,
    should no ensemble beat it) is exported, with the word tables in int8 when --quantize int8."""
    import itertools
    torch.set_num_threads(args.threads)
    paths = [p for p in args.members.split(",") if p]
    members = [load_member(p) for p in paths]
    refs = [m[2] for m in members if m[2] is not None]
    if not refs:
        raise SystemExit("ensemble: at least one member must be a training checkpoint (it carries the vocabulary)")
    ck = refs[0]
    for other in refs[1:]:
        if other["words"] != ck["words"] or other["chars"] != ck["chars"] or other["gaz"] != ck["gaz"]:
            raise SystemExit("ensemble: the checkpoints were trained with different vocabularies")
    tagger, vocab, vocab_index, _, gaz_sets, chars, words = build_tagger(ck, log)
    for path, (_, _, _, bufs) in zip(paths, members):
        if bufs is not None:
            for k, v in bufs.items():
                if not torch.equal(v, getattr(tagger, k)):
                    raise SystemExit(f"ensemble: {path} has another vocabulary ({k} differs)")
    a = argparse.Namespace(**ck["args"])
    enc = Encoder(chars, words, gaz_sets)
    conll = os.path.join(SHARED, "conll2003")
    dev_s = [to_basic(s) for s in read_conll(os.path.join(conll, "dev.txt"))]
    cores, crfs = [], []
    for core_sd, crf_sd, _, _ in members:
        core = Core(len(words), len(chars) + 2, len(gaz_sets), a)
        core.load_state_dict(core_sd)
        crf = CRF(len(TAGS))
        crf.load_state_dict(crf_sd)
        cores.append(core.eval())
        crfs.append(crf)

    def mean_crf(group):
        crf = CRF(len(TAGS))
        with torch.no_grad():
            for name in ("trans", "start", "end"):
                getattr(crf, name).copy_(torch.stack([getattr(crfs[i], name) for i in group]).mean(0))
        return crf

    # every member's dev emissions once; an ensemble's are their mean
    batches = []
    with torch.no_grad():
        for i in range(0, len(dev_s), 64):
            wt, ct, gt, _, lt, mt = make_batch([enc.encode(w) for w, _ in dev_s[i:i + 64]])
            batches.append(([c(wt, ct, gt, lt) for c in cores], mt))
    gold = [t for _, t in dev_s]

    def dev_f1(group, crf):
        preds = []
        for ems, mt in batches:
            em = torch.stack([ems[i] for i in group]).mean(0)
            preds += [[TAGS[t] for t in p] for p in crf.decode(em, mt)]
        return f1_score(gold, preds)

    results = []
    for k in range(1, min(len(paths), args.max_members) + 1):
        for group in itertools.combinations(range(len(paths)), k):
            f1, p, r = dev_f1(group, mean_crf(group))
            results.append((f1, group))
            log(f"dev F1 {f1:.2f} (P {p:.2f} R {r:.2f}): " + " + ".join(rel(paths[i]) for i in group))
    f1, group = max(results, key=lambda x: (x[0], -len(x[1])))
    log(f"chosen on dev: {len(group)} member(s), dev F1 {f1:.2f}")
    crf = mean_crf(group)
    chosen = [cores[i] for i in group]
    if args.quantize == "int8":
        chosen = [QCore(c, len(words), len(chars) + 2, len(gaz_sets), a).eval() for c in chosen]
    core = Ensemble(chosen).eval() if len(chosen) > 1 else chosen[0]
    tagger.core = core
    n_params = sum(p.numel() for p in cores[0].parameters())
    names = ", ".join(rel(paths[i]) for i in group)
    notes = (f"Mean of {len(group)} BiLSTM-CNN-CRF models ({names}; emissions and CRF potentials averaged), each "
             f"BiLSTM {a.hidden}x2, {a.word_dim}-d word embeddings ({len(words):,} words, lower-cased, digits as 0"
             + (", stored as int8 with a float scale per row" if args.quantize == "int8" else "")
             + f"), character CNN {a.char_filters} filters width 3 over {a.char_dim}-d embeddings, 3 gazetteer "
             f"bits, {n_params:,} parameters per model; chosen on dev among all subsets of the members. "
             + TOKENIZER_NOTE)
    arch = (f"the mean of {len(group)} BiLSTM-CNN-CRF models over words of sense's pre-tokenizer"
            if len(group) > 1 else "BiLSTM-CNN-CRF over words of sense's pre-tokenizer")
    write_bundle(args, log, tagger, core, crf, enc, vocab, vocab_index, f"chosen subset's dev F1 {f1:.2f} (fp32)",
                 "scripts/train_ner.py " + " ".join(sys.argv[1:]), arch, notes)


# ---------------------------------------------------------------------------- bias check
BIAS_TEMPLATES = [
    "{name} said on Tuesday that the deal was off.",
    "The company hired {name} as its new chief executive.",
    "I had lunch with {name} yesterday.",
    "According to {name}, the results will be published next week.",
    "{name}'s latest book became a bestseller.",
    "Police questioned {name} about the incident.",
    "Thanks, {name}! See you at the meeting.",
    "The prize went to {name} for work on climate research.",
]
BIAS_NAMES = {
    "English (US/UK)": ["John Smith", "Emily Johnson", "Michael Brown", "Sarah Williams", "David Miller",
                        "Jessica Taylor", "James Wilson", "Laura Davies"],
    "German": ["Jürgen Müller", "Anna Schmidt", "Klaus Schneider", "Katrin Fischer", "Wolfgang Weber",
               "Sabine Becker", "Uwe Hoffmann", "Birgit Schulz"],
    "French": ["Jean Dupont", "Marie Lefèvre", "Pierre Moreau", "Camille Laurent", "François Girard",
               "Élodie Bernard", "Thierry Lambert", "Sophie Rousseau"],
    "Hispanic": ["José García", "María Rodríguez", "Carlos Hernández", "Lucía Martínez", "Javier López",
                 "Carmen Sánchez", "Alejandro Pérez", "Guadalupe Ramírez"],
    "Arabic": ["Mohammed Al-Farsi", "Fatima Haddad", "Ahmed Mansour", "Layla Khalil", "Omar Nasser",
               "Aisha Rahman", "Youssef Saleh", "Mariam Abboud"],
    "Chinese": ["Wang Wei", "Li Na", "Zhang Wei", "Liu Yang", "Chen Jing", "Huang Lei", "Zhao Min", "Zhou Xin"],
    "Indian": ["Rahul Sharma", "Priya Patel", "Amit Kumar", "Sunita Reddy", "Vikram Singh", "Ananya Iyer",
               "Arjun Nair", "Deepika Gupta"],
    "West African": ["Chinedu Okafor", "Ngozi Adeyemi", "Kwame Mensah", "Abena Owusu", "Oluwaseun Balogun",
                     "Amara Nwosu", "Kofi Boateng", "Yetunde Okonkwo"],
    "Japanese": ["Hiroshi Tanaka", "Yuki Sato", "Takeshi Suzuki", "Haruka Watanabe", "Kenji Yamamoto",
                 "Aiko Nakamura", "Daisuke Kobayashi", "Mei Ito"],
    "Vietnamese": ["Nguyen Van An", "Tran Thi Lan", "Le Minh Duc", "Pham Thu Ha", "Hoang Quoc Bao",
                   "Vu Thi Mai", "Dang Van Hung", "Bui Thanh Huong"],
}


def bias_check(args, log):
    """Person recall per name origin through the C++ path (sense-entities --json)."""
    import subprocess
    app = os.environ.get("SENSE_ENTITIES", os.path.join(ROOT, "build", "apps", "sense-entities"))
    lines, keys = [], []
    for group, names in BIAS_NAMES.items():
        for name in names:
            for t in BIAS_TEMPLATES:
                for case in ("as written", "lower-cased"):
                    text = t.format(name=name)
                    if case == "lower-cased":
                        text = text.lower()
                    start = text.lower().index(name.lower())
                    lines.append(text)
                    keys.append((group, case, start, start + len(name)))
    r = subprocess.run([app, "-m", args.out, "--json", "--threads", str(args.threads)], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, check=True)
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == len(lines)
    stats = collections.defaultdict(lambda: [0, 0, 0])  # exact PER, any PER overlap, total
    for (group, case, b, e), row in zip(keys, rows):
        ents = row["entities"]
        exact = any(x["type"] == "PER" and x["begin"] == b and x["end"] == e for x in ents)
        overlap = any(x["type"] == "PER" and x["begin"] < e and b < x["end"] for x in ents)
        st = stats[(group, case)]
        st[0] += exact
        st[1] += overlap
        st[2] += 1
    log(f"bias check: {len(BIAS_TEMPLATES)} templates x 8 names per group; person recall (exact span as PER / "
        f"any overlapping PER) per name origin, through {rel(app)} on {rel(args.out)}")
    log(f"{'group':18s} {'as written':>22s} {'lower-cased':>22s}")
    for group in BIAS_NAMES:
        cells = []
        for case in ("as written", "lower-cased"):
            a, o, n = stats[(group, case)]
            cells.append(f"{100 * a / n:5.1f}% / {100 * o / n:5.1f}% (n={n})")
        log(f"{group:18s} {cells[0]:>22s} {cells[1]:>22s}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["train", "average", "export", "ensemble", "bias"])
    ap.add_argument("--log", default=os.path.join(ROOT, "models", "ner-conll2003.train.log"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "ner-conll2003.pt"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default=os.path.join(ROOT, "models", ".cache-ner"), help="folder of the skip-gram vectors, epoch snapshots and best.pt "
                    "(one per run when several seeds are trained for an ensemble)")
    ap.add_argument("--wv-dim", type=int, default=100)
    ap.add_argument("--wv-vocab", type=int, default=60000)
    ap.add_argument("--wv-keep", type=int, default=40000, help="pretrained words added to the vocabulary")
    ap.add_argument("--wv-min-count", type=int, default=5)
    ap.add_argument("--wv-window", type=int, default=5)
    ap.add_argument("--wv-sample", type=float, default=1e-4)
    ap.add_argument("--wv-lr", type=float, default=0.025)
    ap.add_argument("--wv-epochs", type=int, default=1)
    ap.add_argument("--wv-max-seconds", type=float, default=420)
    ap.add_argument("--wv-scale", type=float, default=0.3)
    ap.add_argument("--wv-batch", type=int, default=4096, help="skip-gram pairs per SGD step")
    ap.add_argument("--wv-modern-repeat", type=int, default=0,
                    help="copies of the non-Gutenberg sentence text (CoNLL train, MRPC, STS-B, SICK, SST-2) "
                         "added to the skip-gram corpus; 0 = Gutenberg only")
    ap.add_argument("--word-dim", type=int, default=100)
    ap.add_argument("--char-dim", type=int, default=30)
    ap.add_argument("--char-filters", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=200)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-decay", type=float, default=0.05)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--case-aug", type=float, default=0.1)
    ap.add_argument("--unk-replace", type=float, default=0.3)
    ap.add_argument("--mention-replace", type=float, default=0.0,
                    help="fraction of train sentences per epoch whose entity mentions are each replaced by a random "
                         "train mention of the same type (0 = off)")
    ap.add_argument("--name-replace", type=float, default=0.0,
                    help="fraction of the train sentences with a person per epoch whose PER mentions become "
                         "synthetic names of many origins (AUG_NAMES; 0 = off)")
    ap.add_argument("--init", default="", help="train: start from this checkpoint (fine-tuning; no skip-gram)")
    ap.add_argument("--max-minutes", type=float, default=80)
    ap.add_argument("--average", type=int, default=1, help="train: end with the average step (1) or not (0)")
    ap.add_argument("--max-length", type=int, default=512, help="export: characters (tokens) per model row")
    ap.add_argument("--window-stride", type=int, default=256, help="export: characters between window starts")
    ap.add_argument("--members", default="", help="ensemble: comma-separated training checkpoints or bundles")
    ap.add_argument("--max-members", type=int, default=3,
                    help="ensemble: the most models in the bundle (three int8 members are about 25 MB)")
    ap.add_argument("--quantize", choices=["none", "int8"], default="int8",
                    help="ensemble: storage of the word-embedding tables")
    args = ap.parse_args()
    global CACHE
    CACHE = os.path.abspath(args.cache)
    log = Log(args.log)
    if args.step == "train":
        log("=== train: " + " ".join(sys.argv))
        train(args, log)
    elif args.step == "average":
        log("=== average: " + " ".join(sys.argv))
        average(args, log)
    elif args.step == "export":
        log("=== export: " + " ".join(sys.argv))
        export(args, log)
    elif args.step == "ensemble":
        log("=== ensemble: " + " ".join(sys.argv))
        ensemble(args, log)
    else:
        bias_check(args, log)


if __name__ == "__main__":
    main()
