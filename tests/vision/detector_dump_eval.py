#!/usr/bin/python3
"""COCO figures of detector_dump's JSON lines (models/coco-detector.md):

    build/tests/vision/detector_dump models/coco-detector.pt 0.01 ../shared/data/coco-val-mini/images/*.jpg > dets.jsonl
    /usr/bin/python3 tests/vision/detector_dump_eval.py ../shared/data/coco-val-mini dets.jsonl

Maps each line's file name to its image id and class index to the category
id (categories in id order = the bundle's labels), boxes xyxy -> xywh, and
scores them with scripts/coco_eval.py (pycocotools' rules).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import coco_eval  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    coco, dets_path = sys.argv[1], sys.argv[2]
    gt = json.load(open(os.path.join(coco, "instances.json")))
    cats = sorted(gt["categories"], key=lambda c: c["id"])
    by_name = {im["file_name"]: im["id"] for im in gt["images"]}
    dets, failed = [], 0
    for line in open(dets_path):
        j = json.loads(line)
        if "error" in j:
            failed += 1
            continue
        for d in j["detections"]:
            x1, y1, x2, y2 = d["box"]
            dets.append({"image_id": by_name[os.path.basename(j["file"])], "category_id": cats[d["class_index"]]["id"],
                         "score": d["score"], "bbox": [x1, y1, x2 - x1, y2 - y1]})
    s = coco_eval.evaluate(gt, dets)
    print(f"{len(dets)} detections, {failed} failed images")
    print("  ".join(f"{k} {100 * v:.1f}" for k, v in s.items() if k != "per_class"))


if __name__ == "__main__":
    main()
