#!/usr/bin/python3
"""The same sentiment bundle driven from Python: SentencePiece's Python
binding + torch.jit.load, same threads. Batches of texts padded to each
batch's longest, in file order, or with --sort in length order as sense
batches them. One JSON line per configuration.

    /usr/bin/python3 benchmarks/bench_sentiment_python.py MODEL SENTENCES.tsv THREADS [--sort] [BATCH...]
"""
import json
import resource
import sys
import time

import sentencepiece as spm
import torch


def main():
    model_path, data, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sort = "--sort" in sys.argv[4:]
    batches = [int(b) for b in sys.argv[4:] if b != "--sort"] or [1, 32]
    torch.set_num_threads(threads)
    texts = [l.rstrip("\n").rsplit("\t", 1)[0] for l in open(data, encoding="utf-8")][1:]
    if sort:
        texts.sort(key=len)
    t = time.perf_counter()
    extra = {"sense.json": "", "tokenizer.model": ""}
    model = torch.jit.load(model_path, _extra_files=extra).eval()
    meta = json.loads(extra["sense.json"])
    if meta.get("weights_dtype") == "float16":
        model = model.float()  # stored in half precision: run in float32, as the sense loader does
    sp = spm.SentencePieceProcessor(model_proto=extra["tokenizer.model"] if isinstance(extra["tokenizer.model"], bytes)
                                    else extra["tokenizer.model"].encode("latin-1"))
    load_s = time.perf_counter() - t
    pad = meta["text"]["pad_id"]
    max_len = meta["text"]["max_length"]
    temperature = meta.get("output", {}).get("temperature", 1.0)

    def classify(batch):
        ids = [sp.encode(s)[:max_len] for s in batch]
        n = max(len(i) for i in ids)
        x = torch.full((len(ids), n), pad, dtype=torch.long)
        m = torch.zeros((len(ids), n), dtype=torch.long)
        for r, i in enumerate(ids):
            x[r, :len(i)] = torch.tensor(i)
            m[r, :len(i)] = 1
        with torch.inference_mode():
            return torch.softmax(model(x, m) / temperature, dim=-1)

    for b in batches:
        for _ in range(3):
            classify(texts[:b])
        lat, done = [], 0
        t0 = time.perf_counter()
        for i in range(0, len(texts) - b + 1, b):
            s = time.perf_counter()
            classify(texts[i:i + b])
            lat.append((time.perf_counter() - s) * 1000)
            done += b
        secs = time.perf_counter() - t0
        lat.sort()
        print(json.dumps({"impl": "python-sorted" if sort else "python", "threads": threads, "batch": b, "sentences": done,
                          "sentences_per_s": done / secs, "median_batch_ms": lat[len(lat) // 2],
                          "p90_batch_ms": lat[len(lat) * 9 // 10], "load_s": load_s,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


if __name__ == "__main__":
    main()
