#!/usr/bin/python3
"""faiss driven directly from Python (python3-faiss, the same Debian faiss
1.7.3 that sense links) on the settings benchmarks/bench_index.cc uses:
inner product on L2-normalised vectors, one OpenMP thread.

    /usr/bin/python3 benchmarks/bench_index_python.py BASE.npy QUERIES.npy [--n N] [--ef 32,64,128]
        [--build-threads T] [--load-hnsw FILE] [--repeat R]

--load-hnsw reads the faiss graph out of a sense index file that
`bench_index --save-hnsw` wrote, so both sides search the very same graph.
"""
import argparse
import json
import struct
import time

import faiss
import numpy as np


def faiss_graph_of_sense_index(path):
    """The faiss index inside a sense vector index file (layout: magic[8] |
    u32 version | u64 header_len | header JSON | u64 items_len | items |
    u64 faiss_len | faiss bytes | u64 checksum; inference/src/vector_index.cc)."""
    b = open(path, "rb").read()
    if b[:8] != b"SENSEVIX":
        raise SystemExit(f"{path}: not a sense vector index")
    pos = 12
    (hlen,) = struct.unpack_from("<Q", b, pos)
    header = json.loads(b[pos + 8:pos + 8 + hlen])
    pos += 8 + hlen
    (ilen,) = struct.unpack_from("<Q", b, pos)
    pos += 8 + ilen
    (flen,) = struct.unpack_from("<Q", b, pos)
    blob = np.frombuffer(b, dtype=np.uint8, count=flen, offset=pos + 8)
    return faiss.deserialize_index(blob), header


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("base")
    ap.add_argument("queries")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--kinds", default="exact,hnsw,ivfpq")
    ap.add_argument("--ef", default="64")
    ap.add_argument("--nprobe", type=int, default=16)
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--build-threads", type=int, default=1)
    ap.add_argument("--load-hnsw", default="")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    faiss.omp_set_num_threads(1)
    xb = np.load(a.base)
    if a.n:
        xb = xb[:a.n]
    xb = np.ascontiguousarray(xb, dtype=np.float32).copy()
    xq = np.ascontiguousarray(np.load(a.queries), dtype=np.float32).copy()
    faiss.normalize_L2(xb)
    faiss.normalize_L2(xq)
    n, d = xb.shape
    k = 10
    truth = None

    def report(kind, index, built, extra, search):
        nonlocal truth
        dt = float("inf")  # the best of --repeat passes, as bench_index
        for _ in range(a.repeat):
            t = time.perf_counter()
            _, labels = search()
            dt = min(dt, time.perf_counter() - t)
        if truth is None:
            truth = labels
        recall = np.mean([len(set(labels[i]) & set(truth[i])) / k for i in range(len(xq))])
        size = faiss.serialize_index(index).size
        print(f"faiss-python {kind:>5s} n={n} d={d}{extra}  build {built:.3f} s  {len(xq) / dt:.0f} q/s  "
              f"recall@10 {recall:.4f}  {size / 1e6:.1f} MB", flush=True)

    t = time.perf_counter()
    flat = faiss.IndexFlatIP(d)
    flat.add(xb)
    report("exact", flat, time.perf_counter() - t, "", lambda: flat.search(xq, k))
    kinds = a.kinds.split(",")
    if "hnsw" in kinds:
        t = time.perf_counter()
        if a.load_hnsw:  # "build" is then the load time
            h, header = faiss_graph_of_sense_index(a.load_hnsw)
            if h.ntotal != n or header["options"]["hnsw_m"] != a.hnsw_m:
                raise SystemExit(f"{a.load_hnsw}: {h.ntotal} vectors, M={header['options']['hnsw_m']}; "
                                 f"the benchmark has {n}, M={a.hnsw_m}")
        else:
            faiss.omp_set_num_threads(a.build_threads)
            h = faiss.IndexHNSWFlat(d, a.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            h.hnsw.efConstruction = a.ef_construction
            h.add(xb)
            faiss.omp_set_num_threads(1)
        built = time.perf_counter() - t
        for ef in [int(x) for x in a.ef.split(",")]:
            h.hnsw.efSearch = ef  # faiss 1.7.3's IndexHNSW ignores SearchParametersHNSW
            report("hnsw", h, built, f" M={a.hnsw_m} efC={a.ef_construction} ef={ef}", lambda: h.search(xq, k))
    if "ivfpq" in kinds:
        lists = int(max(1, min(4 * np.sqrt(n), n // 39)))
        m = d // 4
        while d % m:
            m -= 1
        t = time.perf_counter()
        q = faiss.IndexFlatIP(d)
        ivf = faiss.IndexIVFPQ(q, d, lists, m, 8, faiss.METRIC_INNER_PRODUCT)
        ivf.train(xb)
        ivf.add(xb)
        built = time.perf_counter() - t
        ivf.nprobe = a.nprobe
        report("ivfpq", ivf, built, f" lists={lists} nprobe={a.nprobe}", lambda: ivf.search(xq, k))


if __name__ == "__main__":
    main()
