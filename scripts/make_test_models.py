#!/usr/bin/python3
"""Makes the tiny model bundles the test suite uses (run by the build).

Each is a real TorchScript module with real metadata, small enough to build in
seconds. `colour3` is a classifier whose answer is known by construction: it
scores an image by its mean red, green and blue, so a red image is "red".

    /usr/bin/python3 scripts/make_test_models.py --out build/tests/models
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pack_model  # noqa: E402

torch.manual_seed(0)


class Colour3(torch.nn.Module):
    """Logits = 10 * mean of each (normalised) channel: argmax = dominant colour."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x) + 2.0)

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return 10.0 * f.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class TwoOutputs(torch.nn.Module):
    def forward(self, x: torch.Tensor):
        return {"sum": x.sum(dim=1), "max": x.amax(dim=1)}


class TinyText(torch.nn.Module):
    """Bag of token ids -> 2 logits: "good" votes positive, "bad" negative."""

    def __init__(self, vocab: int):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, 2)

    @torch.jit.export
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.emb(ids)

    @torch.jit.export
    def classify(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (emb * mask.unsqueeze(-1).to(torch.float32)).sum(dim=1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(ids), mask)


class TinyLstmText(torch.nn.Module):
    """Random-weight 2-layer BiLSTM text classifier in the shape of the
    sentiment models: dense recurrence for unpadded batches, packed sequences
    otherwise, masked mean pooling. Exercises sense's LSTM rewrite."""

    def __init__(self, vocab: int):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, 6)
        self.lstm = torch.nn.LSTM(6, 8, num_layers=2, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(16, 2)

    @torch.jit.export
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.emb(ids)

    @torch.jit.export
    def classify(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask != 0
        lengths = m.sum(dim=1)
        if bool((lengths == emb.shape[1]).all()):
            h, _ = self.lstm(emb)
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(emb, lengths.clamp(min=1).cpu(), batch_first=True,
                                                             enforce_sorted=False)
            hp, _ = self.lstm(packed)
            h, _ = torch.nn.utils.rnn.pad_packed_sequence(hp, batch_first=True, total_length=emb.shape[1])
        mf = m.unsqueeze(2).to(h.dtype)
        return self.out((h * mf).sum(dim=1) / mf.sum(dim=1).clamp(min=1.0))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed(ids), mask)


class RaisingColour3(Colour3):
    """colour3 that raises at run time, for the per-image error tests: its
    forward asserts when an image is bright (mean normalised value > 1.5, e.g.
    white, which normalises to 2.0), its Grad-CAM features method when an image
    is dark (mean < -1.5, e.g. black). Zeros (the load check) pass both."""

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        assert bool((x.mean(dim=(1, 2, 3)) >= -1.5).all()), "features: image too dark"
        return torch.relu(self.conv(x) + 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert bool((x.mean(dim=(1, 2, 3)) <= 1.5).all()), "forward: image too bright"
        return self.head(torch.relu(self.conv(x) + 2.0))


def make_raising_colour3(path):
    """raising_colour3.pt: see RaisingColour3."""
    module = torch.jit.script(RaisingColour3().eval())
    pack_model.pack(module, colour3_meta(name="raising-colour3",
                                         description="Test model: colour3 that raises on bright images "
                                                     "(forward) and dark ones (Grad-CAM features)."), {}, path)
class RaisesOnBright(torch.nn.Module):
    """colour3 that raises at run time on a bright input: any batch row whose
    mean (normalised units) exceeds 1.5, e.g. a white image (mean 2.0 after
    colour3's normalisation; red, green, blue and black images are below)."""

    def __init__(self):
        super().__init__()
        self.colour = Colour3()

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.colour.features(x)

    @torch.jit.export
    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.colour.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        brightest = float(x.flatten(1).mean(1).max())
        if brightest > 1.5:
            raise ValueError("sense test model: input mean {} exceeds 1.5".format(brightest))
        return self.colour(x)


def make_raising_models(p):
    """colour3_raises.pt: a model that fails at run time on some inputs (a
    white image), for the typed-error and per-item batch tests."""
    module = torch.jit.script(RaisesOnBright().eval())
    pack_model.pack(module, colour3_meta(name="colour3-raises"), {}, p("colour3_raises.pt"))


class Colour3Probabilities(torch.nn.Module):
    """colour3 that emits probabilities (softmax inside the model)."""

    def __init__(self):
        super().__init__()
        self.colour = Colour3()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.colour(x), dim=1)


def make_probability_model(p):
    """colour3_probabilities.pt: output type "probabilities", which sense must
    report exactly as the model gives them (no second softmax)."""
    m = colour3_meta(name="colour3-probabilities")
    m["outputs"] = [{"name": "probabilities", "dtype": "float32", "shape": [-1, 3]}]
    m["output"] = {"name": "probabilities", "type": "probabilities"}
    m.pop("explain")
    pack_model.pack(torch.jit.script(Colour3Probabilities().eval()), m, {}, p("colour3_probabilities.pt"))


def colour3_meta(**over):
    m = {
        "schema_version": 1,
        "task": "image_classification",
        "name": "colour3",
        "version": "1.0.0",
        "description": "Test model: dominant colour of an image (red, green, blue).",
        "labels": ["red", "green", "blue"],
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 3, 32, 32]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 3]}],
        "image": {"width": 32, "height": 32, "color": "rgb", "layout": "nchw", "resize": "center_crop",
                  "resize_shorter": 36, "interpolation": "bilinear", "scale": 1 / 255,
                  "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
        "output": {"name": "logits", "type": "logits", "activation": "softmax"},
        "explain": {"method": "gradcam", "features_method": "features", "head_method": "head"},
        "provenance": {"training_data": "none: weights set by construction", "script": "scripts/make_test_models.py",
                       "created": "build time", "license": "same as sense", "metrics": {"constructed": 1.0}},
    }
    m.update(over)
    return m


def save_raw(module, path, extra):
    torch.jit.save(module, path, _extra_files=extra)


class TinyBertText(torch.nn.Module):
    """BERT-shaped three-input classifier (input_ids, attention_mask as bool,
    token_type_ids as int32): word + type embeddings, masked mean pool, linear.
    "good" votes positive, "bad" negative, by construction."""

    def __init__(self, vocab: int):
        super().__init__()
        self.words = torch.nn.Embedding(vocab, 4)
        self.types = torch.nn.Embedding(2, 4)
        self.out = torch.nn.Linear(4, 2, bias=False)
        with torch.no_grad():
            self.words.weight.zero_()
            self.words.weight[4, 0] = 1.0  # good
            self.words.weight[5, 1] = 1.0  # bad
            self.types.weight.zero_()
            self.types.weight[1, 2] = 1.0
            self.out.weight.copy_(torch.tensor([[-10.0, 10.0, 0.0, 0.0], [10.0, -10.0, 0.0, 0.0]]))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        x = self.words(input_ids) + self.types(token_type_ids.long())
        m = attention_mask.to(torch.float32).unsqueeze(-1)
        return self.out((x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0))


class RaisingText(torch.nn.Module):
    """TinyText's votes, but raises (a scripted exception) on any row of more
    than 10 tokens: a model that fails on one text of a batch. The load-time
    checks use rows of at most 9 tokens."""

    def __init__(self, vocab: int):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, 2)
        with torch.no_grad():
            self.emb.weight.zero_()
            self.emb.weight[4] = torch.tensor([-1.0, 2.0])
            self.emb.weight[5] = torch.tensor([2.0, -1.0])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if bool((mask.sum(dim=1) > 10).any()):
            raise RuntimeError("raising test model: a row has more than 10 tokens")
        return (self.emb(ids) * mask.unsqueeze(-1).to(torch.float32)).sum(dim=1)


class TinyTokenText(torch.nn.Module):
    """Token-level outputs [B, T, 3]: per-token logits from the token id and
    its position (so padding and batch position would show)."""

    def __init__(self, vocab: int):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, 3)
        with torch.no_grad():
            self.emb.weight.copy_(torch.arange(vocab * 3, dtype=torch.float32).view(vocab, 3))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], dtype=torch.float32).view(1, -1, 1)
        return (self.emb(ids) + 100.0 * pos) * mask.unsqueeze(-1).to(torch.float32)


def make_text_input_models(out):
    """Issue 12's text models: tiny_bert_text.pt (three inputs, bound by
    order), raising_text.pt (fails on long rows) and tiny_token_text.pt
    (token-level outputs, for the text runner)."""
    vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ngood\nbad\nfilm\n"
    n = len(vocab.split())
    prov = {"script": "scripts/make_test_models.py", "training_data": "none: weights set by construction"}
    bert = {
        "schema_version": 1, "task": "text_classification", "name": "tiny-bert-text",
        "labels": ["negative", "positive"],
        "inputs": [{"name": "input_ids", "dtype": "int64", "shape": [-1, -1]},
                   {"name": "attention_mask", "dtype": "bool", "shape": [-1, -1]},
                   {"name": "token_type_ids", "dtype": "int32", "shape": [-1, -1]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 2]}],
        "text": {"tokenizer": {"type": "wordpiece", "asset": "vocab.txt", "lowercase": True}, "max_length": 16},
        "assets": ["vocab.txt"], "provenance": prov}
    pack_model.pack(torch.jit.script(TinyBertText(n).eval()), bert, {"vocab.txt": vocab.encode()},
                    os.path.join(out, "tiny_bert_text.pt"))
    raising = {
        "schema_version": 1, "task": "text_classification", "name": "raising-text",
        "labels": ["negative", "positive"],
        "inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, -1]},
                   {"name": "mask", "dtype": "int64", "shape": [-1, -1]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 2]}],
        "text": {"tokenizer": {"type": "wordpiece", "asset": "vocab.txt", "lowercase": True}, "max_length": 32},
        "assets": ["vocab.txt"], "provenance": prov}
    pack_model.pack(torch.jit.script(RaisingText(n).eval()), raising, {"vocab.txt": vocab.encode()},
                    os.path.join(out, "raising_text.pt"))
    token = {
        "schema_version": 1, "task": "token_classification", "name": "tiny-token-text",
        "labels": ["O", "B-X", "I-X"],
        "inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, -1]},
                   {"name": "mask", "dtype": "int64", "shape": [-1, -1]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, -1, 3]}],
        "text": {"tokenizer": {"type": "wordpiece", "asset": "vocab.txt", "lowercase": True}, "max_length": 16},
        "token_classification": {"scheme": "bio"},
        "assets": ["vocab.txt"], "provenance": prov}
    pack_model.pack(torch.jit.script(TinyTokenText(n).eval()), token, {"vocab.txt": vocab.encode()},
                    os.path.join(out, "tiny_token_text.pt"))
    # tiny_lstm_text.pt re-zipped with deflate: LibTorch's archive reader, which
    # both Model::Load and the early tokenizer read use, inflates it.
    import zipfile
    with zipfile.ZipFile(os.path.join(out, "tiny_lstm_text.pt")) as zi, \
            zipfile.ZipFile(os.path.join(out, "deflated_lstm_text.pt"), "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            zo.writestr(info.filename, zi.read(info.filename))


# ---- entities (issue 14): tiny taggers whose answers are known by construction
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


class TinyTagger(torch.nn.Module):
    """Word-level tagger: each token id has a fixed row of label logits."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", table)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.table[ids] * mask.unsqueeze(2).float()


class TinyBertTagger(torch.nn.Module):
    """BERT-shaped three-input tagger (input_ids, attention_mask as bool, token_type_ids as int32)."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", table)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.table[input_ids] * attention_mask.unsqueeze(2).float() + 0.0 * token_type_ids.unsqueeze(2).float()


def make_entity_models(p):
    """tiny_ner_words.pt (word vocab, lower-cased, CRF scores that forbid O -> I-),
    tiny_ner_window.pt (the same with 6-token windows), tiny_ner_greedy.pt (no CRF),
    tiny_ner_bert.pt (three inputs, sub-words: "merkel" is mer ##kel, and ##kel
    votes B-LOC, which first-subword labelling must ignore)."""
    prov = {"script": "scripts/make_test_models.py", "training_data": "none: weights set by construction"}
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "angela", "merkel", "paris", "met", "in", ".", "jr", "'", "s",
             "the", "new", "york"]
    idx = {w: i for i, w in enumerate(words)}
    K = len(NER_LABELS)
    table = torch.zeros(len(words), K)
    table[:, 0] = 2.0  # O by default
    def row(w, scores):
        table[idx[w]] = torch.tensor(scores)
    row("angela", [0, 3, 1, 0, 0])
    row("merkel", [0, 1, 3, 0, 0])   # I-PER: after angela one entity; alone, conlleval starts one
    row("jr", [1.0, 0, 0.8, 0, 0])
    row("paris", [0, 0, 0, 3, 0])
    row("new", [1, 0, 0, 1.5, 0])
    row("york", [2, 0, 0, 0, 3])
    trans = [[0.0] * K for _ in range(K)]
    for i in range(K):
        for j in (2, 4):  # I-PER, I-LOC only after B-/I- of the same type
            if not (i in (j - 1, j)):
                trans[i][j] = -100.0
    start = [0.0, 0.0, -100.0, 0.0, -100.0]
    def meta(name, max_length=512, truncation="longest_first", crf=True, extra=None):
        m = {
            "schema_version": 1, "task": "token_classification", "name": name, "labels": NER_LABELS,
            "inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, -1]},
                       {"name": "mask", "dtype": "int64", "shape": [-1, -1]}],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, -1, K]}],
            "text": {"tokenizer": {"type": "wordpiece", "asset": "vocab.txt", "lowercase": True},
                     "max_length": max_length, "truncation": truncation, "window_stride": 3,
                     "input_names": {"ids": "ids", "mask": "mask"}},
            "token_classification": {"scheme": "bio", "aggregation": "first"},
            "assets": ["vocab.txt"], "provenance": prov}
        if crf:
            m["token_classification"].update({"transitions": trans, "start_scores": start, "end_scores": [0.0] * K})
        if extra:
            m.update(extra)
        return m
    vocab = ("\n".join(words) + "\n").encode()
    tagger = torch.jit.script(TinyTagger(table).eval())
    pack_model.pack(tagger, meta("tiny-ner-words"), {"vocab.txt": vocab}, p("tiny_ner_words.pt"))
    pack_model.pack(tagger, meta("tiny-ner-window", max_length=6, truncation="window"), {"vocab.txt": vocab},
                    p("tiny_ner_window.pt"))
    pack_model.pack(tagger, meta("tiny-ner-greedy", crf=False), {"vocab.txt": vocab}, p("tiny_ner_greedy.pt"))
    bwords = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "angela", "mer", "##kel", "paris", "met", "in", "."]
    bidx = {w: i for i, w in enumerate(bwords)}
    bt = torch.zeros(len(bwords), K)
    bt[:, 0] = 2.0
    bt[bidx["angela"]] = torch.tensor([0.0, 3, 1, 0, 0])
    bt[bidx["mer"]] = torch.tensor([0.0, 1, 3, 0, 0])
    bt[bidx["##kel"]] = torch.tensor([0.0, 0, 0, 5, 0])
    bt[bidx["paris"]] = torch.tensor([0.0, 0, 0, 3, 0])
    bm = meta("tiny-ner-bert", crf=False)
    bm["inputs"] = [{"name": "input_ids", "dtype": "int64", "shape": [-1, -1]},
                    {"name": "attention_mask", "dtype": "bool", "shape": [-1, -1]},
                    {"name": "token_type_ids", "dtype": "int32", "shape": [-1, -1]}]
    del bm["text"]["input_names"]
    pack_model.pack(torch.jit.script(TinyBertTagger(bt).eval()), bm, {"vocab.txt": ("\n".join(bwords) + "\n").encode()},
                    p("tiny_ner_bert.pt"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)  # noqa: E731

    colour = torch.jit.script(Colour3().eval())
    pack_model.pack(colour, colour3_meta(), {}, p("colour3.pt"))
    make_raising_colour3(p("raising_colour3.pt"))
    # The same module stored in half precision; the loader must run it in float32.
    pack_model.pack(colour, colour3_meta(name="colour3-f16", weights_dtype="float16"), {}, p("colour3_f16.pt"))
    assert torch.jit.load(p("colour3_f16.pt")).conv.weight.dtype == torch.float16
    # The same module with no metadata, and with a sidecar next to a copy.
    save_raw(colour, p("no_metadata.pt"), {})
    save_raw(colour, p("sidecar.pt"), {})
    with open(p("sidecar.pt.json"), "w") as f:
        json.dump(colour3_meta(name="colour3-sidecar"), f, indent=2)
    # Broken metadata, written without validation on purpose.
    save_raw(colour, p("malformed_json.pt"), {"sense.json": '{"schema_version": 1, "task": '})
    save_raw(colour, p("schema_v99.pt"), {"sense.json": json.dumps(colour3_meta(schema_version=99))})
    wrong = colour3_meta(labels=["red", "green", "blue", "yellow"])
    wrong["outputs"][0]["shape"] = [-1, -1]  # undeclared class count: only the model can tell
    save_raw(colour, p("wrong_label_count.pt"), {"sense.json": json.dumps(wrong)})
    save_raw(colour, p("missing_field.pt"), {"sense.json": json.dumps({k: v for k, v in colour3_meta().items() if k != "inputs"})})
    save_raw(colour, p("unknown_task.pt"), {"sense.json": json.dumps(colour3_meta(task="image_colouring"))})
    bad_type = colour3_meta()
    bad_type["image"] = dict(bad_type["image"], width="32")
    save_raw(colour, p("wrong_type.pt"), {"sense.json": json.dumps(bad_type)})

    two = torch.jit.script(TwoOutputs())
    pack_model.pack(two, {
        "schema_version": 1, "task": "image_embedding", "name": "two-outputs",
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}],
        "outputs": [{"name": "sum", "dtype": "float32", "shape": [-1]}, {"name": "max", "dtype": "float32", "shape": [-1]}],
        "image": {"width": 4, "height": 1, "color": "gray", "mean": [0], "std": [1]},
        "embedding": {"dim": 1, "normalize": False}, "output": {"name": "sum"},
        "provenance": {"script": "scripts/make_test_models.py"}}, {}, p("two_outputs.pt"), check=False)

    vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ngood\nbad\nfilm\n"
    tiny = TinyText(len(vocab.split())).eval()
    with torch.no_grad():  # "good" pushes positive, "bad" negative, the rest nothing
        tiny.emb.weight.zero_()
        tiny.emb.weight[4] = torch.tensor([-1.0, 2.0])
        tiny.emb.weight[5] = torch.tensor([2.0, -1.0])
    def text_meta(name, training_data):
        return {
            "schema_version": 1, "task": "text_classification", "name": name,
            "labels": ["negative", "positive"],
            "inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, -1]},
                       {"name": "mask", "dtype": "int64", "shape": [-1, -1]}],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 2]}],
            "text": {"tokenizer": {"type": "wordpiece", "asset": "vocab.txt", "lowercase": True}, "max_length": 16,
                     "input_names": {"ids": "ids", "mask": "mask"}},
            "assets": ["vocab.txt"],
            "explain": {"method": "integrated_gradients", "features_method": "embed", "head_method": "classify"},
            "provenance": {"script": "scripts/make_test_models.py", "training_data": training_data}}

    pack_model.pack(torch.jit.script(tiny), text_meta("tiny-text", "none: weights set by construction"),
                    {"vocab.txt": vocab.encode()}, p("tiny_text.pt"))

    lstm = torch.jit.script(TinyLstmText(len(vocab.split())).eval())
    pack_model.pack(lstm, text_meta("tiny-lstm-text", "none: random weights"), {"vocab.txt": vocab.encode()},
                    p("tiny_lstm_text.pt"))

    make_text_input_models(out)
    make_raising_models(p)
    make_probability_model(p)
    make_entity_models(p)

    # ONNX export of the colour model with a sidecar, for the OpenCV DNN backend.
    try:
        torch.onnx.export(Colour3().eval(), torch.zeros(1, 3, 32, 32), p("colour3.onnx"),
                          input_names=["x"], output_names=["logits"], opset_version=11,
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
        with open(p("colour3.onnx.json"), "w") as f:
            m = colour3_meta(name="colour3-onnx")
            m.pop("explain")
            json.dump(m, f, indent=2)
    except Exception as e:  # torch.onnx needs the onnx exporter deps; tests skip without it
        print(f"note: ONNX export skipped: {e}", file=sys.stderr)
    print(f"test models written to {out}")


if __name__ == "__main__":
    main()
