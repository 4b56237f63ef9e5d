"""train_sentiment.py's teacher-logits cache: a private folder, a format that
loading never executes (issue 12: it used to torch.load a pickle from a
predictable /tmp name). Run with /usr/bin/python3 (needs torch)."""
import os
import pickle
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import torch  # noqa: E402
import train_sentiment as ts  # noqa: E402

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Planted:
    def __reduce__(self):
        return (os.system, ("touch " + marker,))


with tempfile.TemporaryDirectory() as root:
    marker = os.path.join(root, "pwned")
    log = lambda m: print("  log: " + m)
    # the folder: created private, refused when others may write to it
    os.environ["SENSE_CACHE_DIR"] = os.path.join(root, "cache")
    d = ts.private_cache_dir()
    check(os.stat(d).st_mode & 0o777 == 0o700, "cache folder is created with mode 0700")
    open_dir = os.path.join(root, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    os.environ["SENSE_CACHE_DIR"] = open_dir
    try:
        ts.private_cache_dir()
        check(False, "a world-writable cache folder is refused")
    except SystemExit as e:
        check("not a private folder" in str(e), "a world-writable cache folder is refused")
    # round trip
    path = os.path.join(d, "teacher_logits_x.npy")
    logits = torch.randn(5, 2)
    ts.write_logits_cache(path, logits)
    back = ts.read_logits_cache(path, 5, log)
    check(back is not None and torch.equal(back, logits), "logits round-trip through the cache")
    check(ts.read_logits_cache(path, 6, log) is None, "a cache of another row count is ignored")
    # a planted pickle is never executed
    with open(path, "wb") as f:
        pickle.dump(Planted(), f)
    check(ts.read_logits_cache(path, 5, log) is None, "a planted pickle is ignored")
    check(not os.path.exists(marker), "loading a planted pickle runs no code")

sys.exit(1 if failures else 0)
