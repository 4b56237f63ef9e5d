#!/usr/bin/python3
"""train_ner.py without data: the pre-tokenizer split of CoNLL tokens, the span
rules of its dev F1, and the exported character-level wrapper against the
training path on a tiny random model (unknown characters, long words, digits,
case, padding)."""
import argparse
import os
import random
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import train_ner as t  # noqa: E402


def main():
    assert t.basic_split("U.S.") == ["U", ".", "S", "."]
    assert t.basic_split("Obama's") == ["Obama", "'", "s"]
    assert t.to_basic((["U.S.", "said"], ["B-LOC", "O"])) == (["U", ".", "S", ".", "said"],
                                                              ["B-LOC", "I-LOC", "I-LOC", "I-LOC", "O"])
    assert t.chunks(["O", "I-PER", "I-PER", "B-PER", "I-LOC"]) == [("PER", 1, 3), ("PER", 3, 4), ("LOC", 4, 5)]
    assert t.f1_score([["B-PER", "O"]], [["B-PER", "O"]])[0] == 100.0
    assert t.word_key("Paris1996") == "paris0000" and t.word_key("\u2019") == "'"

    torch.manual_seed(0)
    rng = random.Random(0)
    chars = sorted(set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'-\u00e9"))
    words = ["<unk>", "paris", "the", "0000", "caf\u00e9", "a" * 30]
    args = argparse.Namespace(word_dim=8, char_dim=4, char_filters=5, hidden=6, dropout=0.0)
    core = t.Core(len(words), len(chars) + 2, 3, args).eval()
    crf = t.CRF(len(t.TAGS))
    ck = {"args": vars(args), "chars": chars, "words": words, "gaz": [["paris"], [], ["the"]],
          "core": core.state_dict(), "crf": crf.state_dict()}
    logs = []
    tagger, vocab, vocab_index, core2, gaz, _, _ = t.build_tagger(ck, logs.append)
    scripted = torch.jit.script(tagger)
    enc = t.Encoder(chars, words, [set(g) for g in ck["gaz"]])
    pool = ["Paris", "the", "THE", "1996", "caf\u00e9", "Caf\u00e9", "a" * 30, "zzz", "x\u4e2dy", "b" * 120, "'", "\u2019"]
    sents = [[rng.choice(pool) for _ in range(rng.randint(1, 9))] for _ in range(20)]
    seqs = [t.wordpiece_ids(s, vocab_index) for s in sents]
    L = max(len(x) for x in seqs) + 3  # extra padding
    ids = torch.zeros(len(seqs), L, dtype=torch.long)
    mask = torch.zeros(len(seqs), L, dtype=torch.long)
    for b, x in enumerate(seqs):
        ids[b, :len(x)] = torch.tensor(x)
        mask[b, :len(x)] = 1
    with torch.no_grad():
        out = scripted(ids, mask)
        for b, s in enumerate(sents):
            w, c, g = enc.encode(s)
            # words WordPiece cannot spell ([UNK]: a character outside the vocabulary, > 100 characters)
            unk = [any(ch not in vocab_index for ch in x) or len(x) > t.MAX_WORD_CHARS for x in s]
            w = [0 if u else r for r, u in zip(w, unk)]
            c = [[1] if u else cs for cs, u in zip(c, unk)]
            g = [[0.0] * 3 if u else gg for gg, u in zip(g, unk)]
            words_t, chars_t, gaz_t, _, lens_t, _ = t.make_batch([(w, c, g)])
            em = core(words_t, chars_t, gaz_t, lens_t)[0]
            starts = [p for p, i in enumerate(seqs[b]) if tagger.kind[i].item() in (1, 3)]
            assert len(starts) == len(s), (s, starts)
            diff = (out[b, starts] - em).abs().max().item()
            assert diff < 1e-5, (s, diff)
            alone = scripted(ids[b:b + 1, :len(seqs[b])], mask[b:b + 1, :len(seqs[b])])
            assert (alone[0] - out[b, :len(seqs[b])]).abs().max().item() < 1e-5, "batching changes a row"
            # specials and padding carry zeros
            assert out[b, 0].abs().max().item() == 0 and out[b, len(seqs[b]):].abs().max().item() == 0
        assert torch.isfinite(scripted(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))).all()
    print("all checks passed")


if __name__ == "__main__":
    main()
