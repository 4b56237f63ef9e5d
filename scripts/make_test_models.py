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

from typing import Dict, List, Tuple

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


# ---- object detection (issue 13) ----
# BrightBox: a detector whose answer is known by construction. On an input in
# [0, 1] (scale 1/255, mean 0, std 1) it finds the box B of the pixels whose
# brightest channel exceeds 0.5 (network-input pixels, x2/y2 exclusive) and
# its colour c (the channel with the largest mean inside B: 0 red, 1 green,
# 2 blue), and answers with four rows (for a row without a bright region
# every score is 0):
#   r0: B,               class c 0.9
#   r1: B shifted +2 px, class c 0.8 and class (c + 1) % 3 0.4 (multi-label)
#   r2: (30, 20, 33, 23), class 2 (blue) 0.7: a 3 x 3 px box inside B
# Each layout's test model writes these rows in its own format.
DET_LABELS = ["red", "green", "blue"]


class BrightBox(torch.nn.Module):
    def rows(self, x: torch.Tensor):
        """-> boxes [B, 3, 4] xyxy pixels, scores [B, 3, 3] per class."""
        mask = x.amax(dim=1) > 0.5  # [B, H, W]
        n, h, w = mask.shape
        cols = mask.any(dim=1).to(torch.float32)  # [B, W]
        rws = mask.any(dim=2).to(torch.float32)   # [B, H]
        x1 = torch.argmax(cols, dim=1).to(torch.float32)
        x2 = (w - torch.argmax(cols.flip(1), dim=1)).to(torch.float32)
        y1 = torch.argmax(rws, dim=1).to(torch.float32)
        y2 = (h - torch.argmax(rws.flip(1), dim=1)).to(torch.float32)
        found = mask.flatten(1).any(dim=1).to(torch.float32)  # [B]
        m = mask.unsqueeze(1).to(torch.float32)
        mean = (x * m).sum(dim=(2, 3)) / m.sum(dim=(2, 3)).clamp(min=1.0)  # [B, 3]
        c = torch.argmax(mean, dim=1)
        onehot = torch.nn.functional.one_hot(c, 3).to(torch.float32)
        onehot1 = torch.nn.functional.one_hot((c + 1) % 3, 3).to(torch.float32)
        b0 = torch.stack([x1, y1, x2, y2], dim=1)
        b1 = b0 + torch.tensor([2.0, 0.0, 2.0, 0.0])
        b2 = torch.tensor([30.0, 20.0, 33.0, 23.0]).expand(n, 4)
        s0 = 0.9 * onehot
        s1 = 0.8 * onehot + 0.4 * onehot1
        s2 = 0.7 * torch.nn.functional.one_hot(torch.full([n], 2, dtype=torch.long), 3).to(torch.float32)
        boxes = torch.stack([b0, b1, b2], dim=1)
        scores = torch.stack([s0, s1, s2], dim=1) * found.view(n, 1, 1)
        return boxes, scores


def cxcywh(b):
    return torch.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2, b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]], -1)


class BrightYoloV5(BrightBox):
    """[B, 3, 5 + 3]: cxcywh pixels, objectness = best score, class scores / objectness."""
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        boxes, scores = self.rows(x)
        obj = scores.amax(dim=2, keepdim=True)
        return torch.cat([cxcywh(boxes), obj, scores / obj.clamp(min=1e-6)], dim=2)


class BrightDarknet(BrightBox):
    """Darknet through OpenCV DNN: two outputs [B, 2, 5 + 3] and [B, 1, 5 + 3], normalized
    cxcywh, class scores already multiplied by objectness."""
    def forward(self, x: torch.Tensor):
        boxes, scores = self.rows(x)
        wh = torch.tensor([float(x.shape[3]), float(x.shape[2]), float(x.shape[3]), float(x.shape[2])])
        obj = scores.amax(dim=2, keepdim=True)
        rows = torch.cat([cxcywh(boxes) / wh, obj, scores], dim=2)
        return rows[:, :2], rows[:, 2:]


class BrightYoloV8(BrightBox):
    """[B, 4 + 3, 3]: cxcywh pixels and class scores, channels first."""
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        boxes, scores = self.rows(x)
        return torch.cat([cxcywh(boxes), scores], dim=2).transpose(1, 2)


class BrightSsd(BrightBox):
    """SSD-style: boxes [B, 3, 4] normalized xyxy, scores [B, 3, 1 + 3] (background first),
    keypoints [B, 3, 4]: the box's two corners (normalized), as face landmarks."""
    def forward(self, x: torch.Tensor):
        boxes, scores = self.rows(x)
        wh = torch.tensor([float(x.shape[3]), float(x.shape[2]), float(x.shape[3]), float(x.shape[2])])
        nb = boxes / wh
        bg = 1.0 - scores.amax(dim=2, keepdim=True)
        return {"boxes": nb, "scores": torch.cat([bg, scores], dim=2), "landmarks": nb}


class BrightBoxesScoresLabels(BrightBox):
    """Already split per class: boxes [B, 5, 4] xyxy pixels, scores [B, 5], labels [B, 5]
    (int64, class + 1), count [B] = 4: the r1 row twice (its two classes), one padding row."""
    def forward(self, x: torch.Tensor):
        boxes, scores = self.rows(x)
        n = boxes.shape[0]
        c = torch.argmax(scores, dim=2)  # [B, 3]
        c1 = (c[:, 1] + 1) % 3
        b = torch.stack([boxes[:, 0], boxes[:, 1], boxes[:, 1], boxes[:, 2], torch.zeros(n, 4)], dim=1)
        s = torch.stack([scores[:, 0].amax(dim=1), scores[:, 1].amax(dim=1),
                         scores[:, 1].gather(1, c1.view(n, 1)).view(n), scores[:, 2].amax(dim=1), torch.zeros(n)], dim=1)
        labels = torch.stack([c[:, 0], c[:, 1], c1, c[:, 2], torch.full([n], -1, dtype=torch.long)], dim=1) + 1
        return b, s, labels, torch.full([n], 4, dtype=torch.long)


class BrightTorchvision(BrightBox):
    """torchvision's interface: forward(List[Tensor]) -> (losses, List[Dict]), one dict per
    image with boxes [K, 4], labels [K] (class + 1, 0 is background) and scores [K]; K = the
    rows with a score (0 for an image without a bright region, so K differs per image)."""
    def forward(self, images: List[torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[Dict[str, torch.Tensor]]]:
        out: List[Dict[str, torch.Tensor]] = []
        for img in images:
            boxes, scores = self.rows(img.unsqueeze(0))
            best, cls = scores[0].max(dim=1)
            keep = best > 0
            out.append({"boxes": boxes[0][keep], "labels": cls[keep] + 1, "scores": best[keep]})
        losses: Dict[str, torch.Tensor] = {}
        return losses, out


class BrightRaises(torch.nn.Module):
    """BrightYoloV5 that raises on any batch row whose mean exceeds 0.5 (a white image: 2/3
    after letterbox padding; the coloured test pictures are below 0.1): a detector that fails
    on one image of a batch."""
    def __init__(self):
        super().__init__()
        self.inner = BrightYoloV5()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x.flatten(1).mean(dim=1) > 0.5).any()):
            raise ValueError("sense test detector: an input is almost all white")
        return self.inner(x)


class ConstantGfl(torch.nn.Module):
    """gfl layout on a 16 x 16 input, strides 8 and 16 (anchors 4 + 1), reg_max 3, three labels.
    Anchor 3 (stride 8, cell (1, 1), centre (12, 12)): class 1 0.8, sides (bins) 1, 1, 0, 2 ->
    distances 8, 8, 0, 16 -> box (4, 4, 12, 28). Anchor 4 (stride 16, centre (8, 8)): class 0 0.6
    and class 2 0.3, uniform bins -> 1.5 * 16 = 24 per side -> box (-16, -16, 32, 32).
    Other anchors: scores 0.01."""
    def forward(self, x: torch.Tensor):
        n = x.shape[0]
        scores = torch.full([n, 5, 3], 0.01)
        scores[:, 3, 1] = 0.8
        scores[:, 4, 0] = 0.6
        scores[:, 4, 2] = 0.3
        d = torch.zeros([n, 5, 16])
        for side, k in enumerate([1, 1, 0, 2]):
            d[:, 3, side * 4 + k] = 30.0
        return scores + 0.0 * x.mean(), d


def det_meta(name, outputs, detection, width=64, height=48, resize="letterbox", **image):
    im = {"width": width, "height": height, "color": "rgb", "layout": "nchw", "resize": resize,
          "interpolation": "bilinear", "antialias": False, "scale": 1 / 255, "mean": [0, 0, 0], "std": [1, 1, 1],
          "pad_value": [0, 0, 0]}
    im.update(image)
    return {
        "schema_version": 1, "task": "object_detection", "name": name,
        "description": "Test detector: boxes the bright region of an image (scripts/make_test_models.py BrightBox).",
        "labels": DET_LABELS,
        "inputs": [{"name": "images", "dtype": "float32", "shape": [-1, 3, height, width]}],
        "outputs": outputs, "image": im,
        "output": {"name": outputs[0]["name"], "type": "detections", "activation": "none"},
        "detection": detection,
        "provenance": {"script": "scripts/make_test_models.py", "training_data": "none: outputs set by construction"}}


def make_detection_models(p):
    yolo_out = [{"name": "predictions", "dtype": "float32", "shape": [-1, 3, 8]}]
    yolo_det = {"layout": "yolov5", "score_threshold": 0.25, "iou_threshold": 0.45, "max_detections": 10}
    v5 = torch.jit.script(BrightYoloV5().eval())
    pack_model.pack(v5, det_meta("det-yolov5", yolo_out, yolo_det), {}, p("det_yolov5.pt"))
    pack_model.pack(v5, det_meta("det-yolov5-stretch", yolo_out, yolo_det, resize="stretch"), {}, p("det_yolov5_stretch.pt"))
    pack_model.pack(v5, det_meta("det-yolov5-square", yolo_out, yolo_det, width=64, height=64, resize="pad_to_square"),
                    {}, p("det_yolov5_square.pt"))
    pack_model.pack(v5, det_meta("det-yolov5-warp", yolo_out, yolo_det, sampling="warp"), {}, p("det_yolov5_warp.pt"))
    pack_model.pack(torch.jit.script(BrightRaises().eval()), det_meta("det-raises", yolo_out, yolo_det), {},
                    p("det_raises.pt"))
    pack_model.pack(torch.jit.script(BrightDarknet().eval()), det_meta(
        "det-darknet", [{"name": "yolo_a", "dtype": "float32", "shape": [-1, 2, 8]},
                        {"name": "yolo_b", "dtype": "float32", "shape": [-1, 1, 8]}],
        dict(yolo_det, normalized=True, scores_include_objectness=True, predictions_outputs=["yolo_a", "yolo_b"])),
        {}, p("det_darknet.pt"))
    pack_model.pack(torch.jit.script(BrightYoloV8().eval()), det_meta(
        "det-yolov8", [{"name": "output0", "dtype": "float32", "shape": [-1, 7, 3]}],
        {"layout": "yolov8", "score_threshold": 0.25, "iou_threshold": 0.45}), {}, p("det_yolov8.pt"))
    pack_model.pack(torch.jit.script(BrightSsd().eval()), det_meta(
        "det-ssd", [{"name": "boxes", "dtype": "float32", "shape": [-1, 3, 4]},
                    {"name": "scores", "dtype": "float32", "shape": [-1, 3, 4]},
                    {"name": "landmarks", "dtype": "float32", "shape": [-1, 3, 4]}],
        {"layout": "boxes_scores", "normalized": True, "background_class": True, "num_keypoints": 2,
         "keypoints_output": "landmarks", "score_threshold": 0.25, "iou_threshold": 0.45}), {}, p("det_ssd.pt"))
    pack_model.pack(torch.jit.script(BrightBoxesScoresLabels().eval()), det_meta(
        "det-bsl", [{"name": "boxes", "dtype": "float32", "shape": [-1, 5, 4]},
                    {"name": "scores", "dtype": "float32", "shape": [-1, 5]},
                    {"name": "labels", "dtype": "int64", "shape": [-1, 5]},
                    {"name": "count", "dtype": "int64", "shape": [-1]}],
        {"layout": "boxes_scores_labels", "label_offset": 1, "count_output": "count", "score_threshold": 0.25,
         "iou_threshold": 0.45}), {}, p("det_bsl.pt"))
    pack_model.pack(torch.jit.script(BrightTorchvision().eval()), det_meta(
        "det-torchvision", [{"name": "boxes", "dtype": "float32", "shape": [-1, -1, 4]},
                            {"name": "labels", "dtype": "int64", "shape": [-1, -1]},
                            {"name": "scores", "dtype": "float32", "shape": [-1, -1]},
                            {"name": "num_detections", "dtype": "int64", "shape": [-1]}],
        {"layout": "torchvision", "label_offset": 1, "score_threshold": 0.25}, resize="stretch"),
        {}, p("det_torchvision.pt"))
    pack_model.pack(torch.jit.script(ConstantGfl().eval()), det_meta(
        "det-gfl", [{"name": "scores", "dtype": "float32", "shape": [-1, 5, 3]},
                    {"name": "dists", "dtype": "float32", "shape": [-1, 5, 16]}],
        {"layout": "gfl", "score_threshold": 0.25, "iou_threshold": 0.5, "multi_label": True,
         "gfl": {"scores_output": "scores", "distributions_output": "dists", "strides": [8, 16], "reg_max": 3}},
        width=16, height=16, resize="stretch"), {}, p("det_gfl.pt"))
# ----------------------------------------------------------------------------
# Embedding bundles (issue 15): outputs known by construction, so the tests
# can compute pooling, normalisation and quantisation by hand.


class TinyImageEmbed(torch.nn.Module):
    """2x2 gray image -> [top row sum, bottom row sum, 0.5] of the normalised pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x.reshape(x.shape[0], 4)
        half = torch.full((x.shape[0], 1), 0.5)
        return torch.cat([f[:, 0:1] + f[:, 1:2], f[:, 2:3] + f[:, 3:4], half], 1)


class TinyImageMap(torch.nn.Module):
    """2x2 gray image -> feature map [N, 2, 2, 2]: (x, 1 - x), to be pooled by sense."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, 1.0 - x], 1)


class TinyTokenEmbed(torch.nn.Module):
    """Token vectors [N, T, 3]: row i of the table is (i, -i, i % 2)."""

    def __init__(self, vocab: int):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, 3)
        with torch.no_grad():
            i = torch.arange(vocab, dtype=torch.float32)
            self.emb.weight.copy_(torch.stack([i, -i, i.remainder(2)], 1))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.emb(ids) * mask.unsqueeze(-1).to(torch.float32)


class TinyPooledText(torch.nn.Module):
    """A model that pools itself: [N, 3] = sum of the token vectors above."""

    def __init__(self, vocab: int):
        super().__init__()
        self.tokens = TinyTokenEmbed(vocab)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.tokens(ids, mask).sum(1)


def make_embedding_models(p):
    prov = {"script": "scripts/make_test_models.py", "training_data": "none: weights set by construction"}
    image = {"width": 2, "height": 2, "color": "gray", "resize": "stretch", "interpolation": "nearest",
             "antialias": False, "mean": [0.0], "std": [1.0]}
    base = {"schema_version": 1, "task": "image_embedding", "version": "1.0.0",
            "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 1, 2, 2]}], "image": image, "provenance": prov}
    pack_model.pack(torch.jit.script(TinyImageEmbed()), dict(
        base, name="tiny-image-embed",
        outputs=[{"name": "embedding", "dtype": "float32", "shape": [-1, 3]}],
        output={"name": "embedding", "type": "embeddings", "activation": "none"},
        embedding={"dim": 3, "normalize": True}), {}, p("tiny_image_embed.pt"))
    for pooling in ("mean", "max"):
        pack_model.pack(torch.jit.script(TinyImageMap()), dict(
            base, name=f"tiny-image-map-{pooling}",
            outputs=[{"name": "map", "dtype": "float32", "shape": [-1, 2, 2, 2]}],
            output={"name": "map", "type": "embeddings", "activation": "none"},
            embedding={"dim": 2, "normalize": False, "pooling": pooling}), {}, p(f"tiny_image_map_{pooling}.pt"))

    vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ngood\nbad\nfilm\n"
    n = len(vocab.split())
    text = {"schema_version": 1, "task": "text_embedding", "version": "1.0.0",
            "inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, -1]},
                       {"name": "mask", "dtype": "int64", "shape": [-1, -1]}],
            "text": {"tokenizer": {"type": "wordpiece", "asset": "vocab.txt", "lowercase": True}, "max_length": 16,
                     "input_names": {"ids": "ids", "mask": "mask"}},
            "assets": ["vocab.txt"], "provenance": prov}
    for pooling in ("mean", "cls", "max"):
        pack_model.pack(torch.jit.script(TinyTokenEmbed(n).eval()), dict(
            text, name=f"tiny-text-embed-{pooling}",
            outputs=[{"name": "tokens", "dtype": "float32", "shape": [-1, -1, 3]}],
            output={"name": "tokens", "type": "embeddings", "activation": "none"},
            embedding={"dim": 3, "normalize": False, "pooling": pooling}), {"vocab.txt": vocab.encode()},
            p(f"tiny_text_embed_{pooling}.pt"))
    pack_model.pack(torch.jit.script(TinyPooledText(n).eval()), dict(
        text, name="tiny-text-embed-pooled",
        outputs=[{"name": "embedding", "dtype": "float32", "shape": [-1, 3]}],
        output={"name": "embedding", "type": "embeddings", "activation": "none"},
        embedding={"dim": 3, "normalize": True, "pooling": "none"}), {"vocab.txt": vocab.encode()},
        p("tiny_text_embed_pooled.pt"))


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
    make_detection_models(p)
    make_embedding_models(p)
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
