#!/usr/bin/python3
"""COCO bounding-box evaluation, written to follow pycocotools' COCOeval (bbox)
rule for rule, because pycocotools is not packaged by Debian:

- a ground-truth box is ignored when it is a crowd region (iscrowd 1) or its
  annotation `area` lies outside the area range; a detection's area is w*h;
- IoU against a crowd region is intersection / detection area;
- per image and category, detections in score order (top maxDet), greedy
  matching at each IoU threshold 0.50:0.05:0.95, a detection never leaves a
  matched non-ignored box for an ignored one; unmatched detections outside the
  area range are ignored;
- precision made monotone, read at 101 recall points; categories without
  ground truth in an area range do not count (-1).

    from coco_eval import evaluate
    stats = evaluate(gt_json_dict, detections)  # detections: [{image_id, category_id, bbox [x,y,w,h], score}]
"""
import numpy as np

AREAS = {"all": (0, 1e10), "small": (0, 32 ** 2), "medium": (32 ** 2, 96 ** 2), "large": (96 ** 2, 1e10)}
IOU_THRS = np.linspace(0.5, 0.95, 10)
REC_THRS = np.linspace(0.0, 1.0, 101)
MAX_DETS = (1, 10, 100)


def _iou(d, g, crowd):
    """d [D,4], g [G,4] in xywh; crowd [G] bool."""
    if len(d) == 0 or len(g) == 0:
        return np.zeros((len(d), len(g)))
    dx1, dy1, dx2, dy2 = d[:, 0], d[:, 1], d[:, 0] + d[:, 2], d[:, 1] + d[:, 3]
    gx1, gy1, gx2, gy2 = g[:, 0], g[:, 1], g[:, 0] + g[:, 2], g[:, 1] + g[:, 3]
    iw = np.clip(np.minimum(dx2[:, None], gx2[None]) - np.maximum(dx1[:, None], gx1[None]), 0, None)
    ih = np.clip(np.minimum(dy2[:, None], gy2[None]) - np.maximum(dy1[:, None], gy1[None]), 0, None)
    inter = iw * ih
    da = (d[:, 2] * d[:, 3])[:, None]
    ga = (g[:, 2] * g[:, 3])[None]
    union = np.where(crowd[None], da, da + ga - inter)
    return np.where(union > 0, inter / np.maximum(union, 1e-300), 0.0)


def _evaluate_img(gts, dts, arng, max_det):
    if not gts and not dts:
        return None
    g_ig = np.array([1 if (g.get("iscrowd", 0) or g["area"] < arng[0] or g["area"] > arng[1]) else 0 for g in gts], dtype=int)
    gind = np.argsort(g_ig, kind="mergesort")
    gts = [gts[i] for i in gind]
    g_ig = g_ig[gind]
    dind = np.argsort([-d["score"] for d in dts], kind="mergesort")
    dts = [dts[i] for i in dind[:max_det]]
    crowd = np.array([bool(g.get("iscrowd", 0)) for g in gts], dtype=bool)
    ious = _iou(np.array([d["bbox"] for d in dts], dtype=float).reshape(-1, 4),
                np.array([g["bbox"] for g in gts], dtype=float).reshape(-1, 4), crowd)
    T, G, D = len(IOU_THRS), len(gts), len(dts)
    gtm = np.zeros((T, G))
    dtm = np.zeros((T, D))
    dt_ig = np.zeros((T, D))
    if G and D:
        for ti, t in enumerate(IOU_THRS):
            for di in range(D):
                iou = min(t, 1 - 1e-10)
                m = -1
                for gi in range(G):
                    if gtm[ti, gi] > 0 and not crowd[gi]:
                        continue
                    if m > -1 and g_ig[m] == 0 and g_ig[gi] == 1:
                        break
                    if ious[di, gi] < iou:
                        continue
                    iou = ious[di, gi]
                    m = gi
                if m == -1:
                    continue
                dt_ig[ti, di] = g_ig[m]
                dtm[ti, di] = 1 + m  # any non-zero marks a match
                gtm[ti, m] = 1 + di
    d_area = np.array([d["bbox"][2] * d["bbox"][3] for d in dts]).reshape(1, D)
    out_rng = (d_area < arng[0]) | (d_area > arng[1])
    dt_ig = np.logical_or(dt_ig, np.logical_and(dtm == 0, np.repeat(out_rng, T, 0)))
    return {"dtm": dtm, "dt_ig": dt_ig, "g_ig": g_ig, "scores": np.array([d["score"] for d in dts])}


def evaluate(gt, detections, per_class=False):
    """gt: a COCO instances dict; detections: list of result dicts. Returns a
    dict of the 12 COCO summary numbers (AP, AP50, AP75, APs, APm, APl, AR1,
    AR10, AR100, ARs, ARm, ARl) and, with per_class, {category name: AP}."""
    img_ids = sorted(im["id"] for im in gt["images"])
    cat_ids = sorted(c["id"] for c in gt["categories"])
    by = {}
    for a in gt["annotations"]:
        by.setdefault((a["image_id"], a["category_id"]), ([], []))[0].append(a)
    img_set = set(img_ids)
    for d in detections:
        if d["image_id"] not in img_set:
            raise ValueError(f"detection for image {d['image_id']}, which is not in the ground truth")
        by.setdefault((d["image_id"], d["category_id"]), ([], []))[1].append(d)
    T, R, K, A, M = len(IOU_THRS), len(REC_THRS), len(cat_ids), len(AREAS), len(MAX_DETS)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k, c in enumerate(cat_ids):
        for a, arng in enumerate(AREAS.values()):
            evals = [_evaluate_img(*by.get((i, c), ([], [])), arng, MAX_DETS[-1]) for i in img_ids]
            evals = [e for e in evals if e is not None]
            if not evals:
                continue
            for m, max_det in enumerate(MAX_DETS):
                scores = np.concatenate([e["scores"][:max_det] for e in evals])
                inds = np.argsort(-scores, kind="mergesort")
                dtm = np.concatenate([e["dtm"][:, :max_det] for e in evals], axis=1)[:, inds]
                dt_ig = np.concatenate([e["dt_ig"][:, :max_det] for e in evals], axis=1)[:, inds]
                npig = int(sum(np.count_nonzero(e["g_ig"] == 0) for e in evals))
                if npig == 0:
                    continue
                tps = np.logical_and(dtm != 0, np.logical_not(dt_ig))
                fps = np.logical_and(dtm == 0, np.logical_not(dt_ig))
                tp_sum = np.cumsum(tps, axis=1).astype(float)
                fp_sum = np.cumsum(fps, axis=1).astype(float)
                for t in range(T):
                    tp, fp = tp_sum[t], fp_sum[t]
                    nd = len(tp)
                    rc = tp / npig
                    pr = tp / (fp + tp + np.spacing(1))
                    recall[t, k, a, m] = rc[-1] if nd else 0
                    pr = pr.tolist()
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    q = np.zeros(R)
                    idx = np.searchsorted(rc, REC_THRS, side="left")
                    for ri, pi in enumerate(idx):
                        if pi < nd:
                            q[ri] = pr[pi]
                    precision[t, :, k, a, m] = q

    def summ(ap, iou=None, area="all", max_det=100):
        a = list(AREAS).index(area)
        m = MAX_DETS.index(max_det)
        if ap:
            s = precision[:, :, :, a, m]
            if iou is not None:
                s = s[np.where(np.isclose(IOU_THRS, iou))[0]]
        else:
            s = recall[:, :, a, m]
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0
    stats = {
        "AP": summ(1), "AP50": summ(1, 0.5), "AP75": summ(1, 0.75),
        "APs": summ(1, area="small"), "APm": summ(1, area="medium"), "APl": summ(1, area="large"),
        "AR1": summ(0, max_det=1), "AR10": summ(0, max_det=10), "AR100": summ(0),
        "ARs": summ(0, area="small"), "ARm": summ(0, area="medium"), "ARl": summ(0, area="large"),
    }
    if per_class:
        names = {c["id"]: c["name"] for c in gt["categories"]}
        pc = {}
        for k, c in enumerate(cat_ids):
            s = precision[:, :, k, 0, -1]
            s = s[s > -1]
            if s.size:
                pc[names[c]] = float(np.mean(s))
        stats["per_class"] = pc
    return stats
