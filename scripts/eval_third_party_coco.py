#!/usr/bin/python3
"""COCO figures of a detector sidecar through sense's C++ path: runs
ObjectDetector (build/tests/vision/detector_dump) on every image of a COCO
folder and scores the boxes with scripts/coco_eval.py (pycocotools' bbox
rules).

    /usr/bin/python3 scripts/eval_third_party_coco.py models/third-party/yolo-fastest-1.1-xl.json \\
        --coco ../shared/data/coco-val-mini [--iou 0.5] [--single-label] [--threshold 0.01]

The protocol of ../shared/models/*/SOURCE.md: score threshold 0.01, per-class
NMS at --iou, at most 100 detections per image, every class above the
threshold kept per box (--single-label: only each box's best class, as
FastestDet's upstream example decodes). detector_dump takes only a score
threshold, so the other settings go into a copy of the sidecar (its 'files'
made absolute) in a temporary folder; the model and its preprocessing are
the sidecar's own. Labels map to COCO categories by name.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import coco_eval  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sidecar")
    ap.add_argument("--coco", required=True, help="folder with instances.json and images/")
    ap.add_argument("--iou", type=float, default=0.5)
    ap.add_argument("--threshold", type=float, default=0.01)
    ap.add_argument("--max-det", type=int, default=100)
    ap.add_argument("--single-label", action="store_true")
    ap.add_argument("--dump", default=os.path.join(HERE, "..", "build", "tests", "vision", "detector_dump"))
    a = ap.parse_args()
    side = json.load(open(a.sidecar))
    base = os.path.dirname(os.path.abspath(a.sidecar))
    for k in side.get("files", {}):
        side["files"][k] = os.path.normpath(os.path.join(base, side["files"][k]))
    side["detection"].update({"multi_label": not a.single_label, "iou_threshold": a.iou, "max_detections": a.max_det})
    gt = json.load(open(os.path.join(a.coco, "instances.json")))
    files = [os.path.join(a.coco, "images", im["file_name"]) for im in gt["images"]]
    with tempfile.TemporaryDirectory() as tmp:
        protocol = os.path.join(tmp, os.path.basename(a.sidecar))
        json.dump(side, open(protocol, "w"))
        out = subprocess.run([a.dump, protocol, str(a.threshold)] + files, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"eval_third_party_coco: detector_dump failed: {out.stderr.strip()}")
    by_name = {c["name"]: c["id"] for c in gt["categories"]}
    ids = {im["file_name"]: im["id"] for im in gt["images"]}
    dets, failed = [], 0
    for line in out.stdout.splitlines():
        j = json.loads(line)
        if "error" in j:
            failed += 1
            print(f"{j['file']}: {j['error']}", file=sys.stderr)
            continue
        for d in j["detections"]:
            if d["label"] not in by_name:
                sys.exit(f"eval_third_party_coco: label {d['label']!r} is not a COCO category name")
            x1, y1, x2, y2 = d["box"]
            dets.append({"image_id": ids[os.path.basename(j["file"])], "category_id": by_name[d["label"]],
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "score": d["score"]})
    st = coco_eval.evaluate(gt, dets)
    print(f"{os.path.basename(a.sidecar)}: {len(files)} images ({failed} failed), {len(dets)} detections; "
          f"{'single' if a.single_label else 'multi'}-label, NMS {a.iou}, threshold {a.threshold}")
    print("  " + "  ".join(f"{k} {100 * st[k]:.1f}" for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")))


if __name__ == "__main__":
    main()
