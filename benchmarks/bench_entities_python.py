#!/usr/bin/python3
"""The same entity bundle driven from Python, with the same pre-processing as sense:
BERT-style basic split (whitespace, then each punctuation character), the bundle's
character vocab.txt ([CLS] c ##c ... [SEP]), torch.jit.load, CRF Viterbi (numpy) with
the bundle's transitions, spans from BIO tags. Prints one JSON line per batch size.

    benchmarks/bench_entities_python.py MODEL SENTENCES.txt THREADS [BATCH...]
"""
import json
import resource
import sys
import time
import unicodedata
import zipfile

import numpy as np
import torch


def is_punct(c):
    o = ord(c)
    return 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126 or unicodedata.category(c).startswith("P")


def words_of(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if is_punct(text[i]):
            out.append((i, i + 1))
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and not is_punct(text[j]):
            j += 1
        out.append((i, j))
        i = j
    return out


def viterbi(em, trans, start, end):
    score = start + em[0]
    back = []
    for t in range(1, len(em)):
        s = score[:, None] + trans
        back.append(s.argmax(0))
        score = s.max(0) + em[t]
    best = int((score + end).argmax())
    path = [best]
    for b in reversed(back):
        best = int(b[best])
        path.append(best)
    return path[::-1]


def spans(tags, labels):
    out, cur = [], None
    for i, t in enumerate(list(tags) + [0]):
        lab = labels[t] if i < len(tags) else "O"
        if cur and (lab == "O" or lab.startswith("B-") or lab[2:] != cur[0]):
            out.append((cur[0], cur[1], i))
            cur = None
        if lab != "O" and cur is None:
            cur = (lab[2:], i)
    return out


def main():
    model_path, data, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    batches = [int(x) for x in sys.argv[4:]] or [1, 32]
    torch.set_num_threads(threads)
    texts = [l.rstrip("\n") for l in open(data, encoding="utf-8") if l.strip()]
    t_load = time.perf_counter()
    with zipfile.ZipFile(model_path) as z:
        names = z.namelist()
        meta = json.loads(z.read([n for n in names if n.endswith("extra/sense.json")][0]))
        vocab = z.read([n for n in names if n.endswith("extra/vocab.txt")][0]).decode("utf-8").split("\n")
    model = torch.jit.load(model_path).eval()
    load_s = time.perf_counter() - t_load
    idx = {p: i for i, p in enumerate(vocab) if p}
    tc = meta["token_classification"]
    trans, start, end = np.array(tc["transitions"]), np.array(tc["start_scores"]), np.array(tc["end_scores"])
    labels = meta["labels"]
    unk, cls, sep = idx["[UNK]"], idx["[CLS]"], idx["[SEP]"]

    def encode(text):
        ws = words_of(text)
        ids, first = [cls], []
        for b, e in ws:
            w = text[b:e]
            first.append(len(ids))
            if len(w) > 100 or any(c not in idx for c in w):
                ids.append(unk)
            else:
                ids.append(idx[w[0]])
                ids.extend(idx["##" + c] for c in w[1:])
        ids.append(sep)
        return ws, ids, first

    def run(batch_texts):
        enc = [encode(t) for t in batch_texts]
        L = max(len(e[1]) for e in enc)
        ids = torch.zeros(len(enc), L, dtype=torch.long)
        mask = torch.zeros(len(enc), L, dtype=torch.long)
        for i, (_, x, _) in enumerate(enc):
            ids[i, :len(x)] = torch.tensor(x)
            mask[i, :len(x)] = 1
        with torch.no_grad():
            out = model(ids, mask).numpy()
        res = []
        for i, (ws, _, first) in enumerate(enc):
            path = viterbi(out[i, first], trans, start, end)
            res.append((len(ws), [(t, ws[a][0], ws[b - 1][1]) for t, a, b in spans(path, labels)]))
        return res

    for b in batches:
        for _ in range(3):
            run(texts[:b])
        order = sorted(range(len(texts)), key=lambda i: len(texts[i])) if b > 1 else list(range(len(texts)))
        words = ents = 0
        t0 = time.perf_counter()
        for k in range(0, len(order), b):
            for n, e in run([texts[i] for i in order[k:k + b]]):
                words += n
                ents += len(e)
        secs = time.perf_counter() - t0
        print(json.dumps({"impl": "python", "threads": threads, "batch": b, "sentences": len(texts), "words": words,
                          "entities": ents, "words_per_s": words / secs, "load_s": load_s,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}), flush=True)


if __name__ == "__main__":
    main()
