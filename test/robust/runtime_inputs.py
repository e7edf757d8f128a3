#!/usr/bin/env python3
"""Robustness test: hostile runtime inputs give a clear message, never a crash,
and never change a file the user owns.

Derives several hundred cases from two small trained models (a CSV series
model and an IMDB model, test/lit/train/Inputs):
  checkpoint   every training.* counter, every metadata record (vocab, maxlen,
               normalization, best_loss) made wrong in many ways; NaN and Inf
               in each parameter and optimizer tensor; header lengths off by
               a few bytes; bytes past the last tensor; a huge header length
  library      random byte flips in a model.so
  text         reviews with invalid UTF-8 (Latin-1 bytes, NULs, cut sequences)
  csv          ';' and tab separators, decimal commas, UTF-16, CR-only lines,
               a directory, NUL bytes
  outputs      --json/--plot/--checkpoint and rnnc -o naming a device, a FIFO,
               a directory, the model source or library, a checkpoint, a
               symlink (written through), a missing directory
  flags        conflicting or impossible flags (exit 2)
  signals      SIGINT / SIGTERM while reading a FIFO or stdin (exit 3)
Each case must exit with its expected status (never a signal, never a
sanitizer report), print `error:` or `interrupted:` where it fails, and leave
every file it did not own (checkpoint, model, source) byte-identical.

usage: runtime_inputs.py RNNC RNNRUN SRC_DIR WORK_DIR
"""
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time

RNNC, RNNRUN, SRC, WORK = sys.argv[1:5]
INPUTS = os.path.join(SRC, "test/lit/train/Inputs")
rng = random.Random(13)
failures = []


def run(args, stdin=None, timeout=120, env=None):
    p = subprocess.run(args, stdin=stdin, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stderr.decode(errors="replace"), p.stdout.decode(errors="replace")


def digest(path):
    st = os.lstat(path)
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            return (st.st_ino, st.st_mode, hashlib.sha256(f.read()).hexdigest())
    return (st.st_ino, st.st_mode, os.readlink(path) if stat.S_ISLNK(st.st_mode) else None)


def check(label, args, want, keep=(), message="error:", stdin=None):
    """Runs one case; `want` is the expected exit status, `keep` the files it
    must leave untouched."""
    before = {p: digest(p) for p in keep}
    try:
        code, err, _ = run(args, stdin=stdin)
    except subprocess.TimeoutExpired:
        failures.append(f"{label}: timed out")
        return
    problems = []
    if code < 0:
        problems.append(f"killed by signal {-code}")
    elif code != want and not (isinstance(want, tuple) and code in want):
        problems.append(f"exit {code}, expected {want}")
    if "Sanitizer" in err or "runtime error:" in err:
        problems.append("sanitizer report")
    if want != 0 and message not in err:  # (a tuple of statuses: all failures)
        problems.append(f"no '{message}' message")
    if any(ord(c) < 0x20 and c not in "\n\t\r\x1b" for c in err):
        problems.append("raw control bytes in the message")
    for p, d in before.items():
        if not os.path.lexists(p) or digest(p) != d:
            problems.append(f"{p} was changed")
    if problems:
        failures.append(f"{label}: {'; '.join(problems)}\n    {' '.join(args)}\n    {err.strip()[-400:]}")
    return code, err


# --- Checkpoints -------------------------------------------------------------
def read_st(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_st(path, header, body, pad=True):
    text = json.dumps(header).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + body)


def checkpoint_mutants(header, body, kind):
    meta = header.get("__metadata__", {})
    for name in ("training.epoch", "training.step", "training.optimizer_steps", "training.epoch_samples"):
        if name not in header:
            continue
        for value in ((-2,) if name == "training.epoch_samples" else (-1,)) + (-2**63, 2**41, 2**62, 2**63 - 1):
            h, b = json.loads(json.dumps(header)), bytearray(body)
            s, _ = h[name]["data_offsets"]
            b[s:s + 8] = struct.pack("<q", value)
            yield f"{name}={value}", h, bytes(b)
    bad_values = {
        "vocab": ["", "[]", "{}", "[1,2,3]", '["<pad>"]', '["<pad>","<unk>"]', '["a","b","c"]',
                  '["<pad>","<unk>","x","x"]', json.dumps(["<pad>", "<unk>"] + [f"w{i}" for i in range(100000)]), "nul\u0000l"],
        "maxlen": ["", "-1", "0", "99999999999999999999", "abc", "32.5"],
        "normalization": ["", "[]", "3", '{"features":[]}', '{"features":["a"],"min":[0],"max":[1]}',
                          '{"features":["a","b","target"],"min":[0,0],"max":[1,1,1],"target":"target","target_min":0,"target_max":1}',
                          '{"features":["a","b","target"],"min":[0,0,"x"],"max":[1,1,1],"target":"target","target_min":0,"target_max":1}',
                          '{"features":["a","b","target"],"min":[0,0,0],"max":[1,1,1],"target":"target","target_min":2,"target_max":1}',
                          '{"features":["a","b","target"],"min":[0,0,0],"max":[1,1,1],"target":7,"target_min":0,"target_max":1}',
                          '{"features":["a","b",3],"min":[0,0,0],"max":[1,1,1],"target":"target","target_min":0,"target_max":1}',
                          '{"features":["a","b","target"],"min":[0,0,0],"max":[1,-1,1],"target":"target","target_min":0,"target_max":1}'],
        "best_loss": ["", "nan", "inf", "-1", "x"],
    }
    for key, values in bad_values.items():
        for i, value in enumerate(values):
            h = json.loads(json.dumps(header))
            h.setdefault("__metadata__", {})[key] = value
            yield f"meta-{key}-{i}", h, body
    tensors = [k for k in header if k != "__metadata__" and header[k]["dtype"] == "F32"]
    for name in tensors:
        for bad in (float("nan"), float("inf"), -float("inf")):
            s, e = header[name]["data_offsets"]
            b = bytearray(body)
            at = s + 4 * rng.randrange((e - s) // 4)
            b[at:at + 4] = struct.pack("<f", bad)
            yield f"{bad}-in-{name}", header, bytes(b)
        s, e = header[name]["data_offsets"]
        b = bytearray(body)
        b[s:e] = struct.pack("<f", float("nan")) * ((e - s) // 4)
        yield f"all-nan-{name}", header, bytes(b)


def raw_mutants(data):
    n = struct.unpack("<Q", data[:8])[0]
    for delta in (-8, -3, -1, 1, 2, 7):
        yield f"header-length{delta:+d}", struct.pack("<Q", n + delta) + data[8:]
    yield "trailing-bytes", data + b"\0" * 4
    yield "trailing-block", data + b"x" * 4096
    for huge in (40 << 30, 2**63, 2**64 - 1):
        yield f"header-length-{huge}", struct.pack("<Q", huge) + data[8:]
    yield "body-short", data[:-4]


def checkpoint_cases(model, good, data_dir, extra):
    header, body = read_st(good)
    cases = [(l, h, b, None) for l, h, b in checkpoint_mutants(header, body, model)]
    cases += [(l, None, None, d) for l, d in raw_mutants(open(good, "rb").read())]
    jobs = []
    for label, h, b, raw in cases:
        path = os.path.join(WORK, "ck", f"{os.path.basename(model)}-{label}.safetensors".replace("/", "_"))
        if raw is not None:
            open(path, "wb").write(raw)
        else:
            write_st(path, h, b)
        # --resume also writes the checkpoint: a file that is no checkpoint
        # is refused as an output (exit 2) before it is read as an input.
        for mode in (["--eval"], ["--resume", "--epochs", "3"]) + (extra,):
            want = (1, 2) if mode[0] == "--resume" else 1
            jobs.append((f"checkpoint {label} {mode[0]}",
                         [RNNRUN, model, "--data-dir", data_dir, "-q", "--checkpoint", path] + mode, want, [path, model]))
    return jobs


# --- Setup -------------------------------------------------------------------
shutil.rmtree(WORK, ignore_errors=True)
for d in ("data", "imdb", "ck", "out", "csv", "text"):
    os.makedirs(os.path.join(WORK, d))
DATA, IMDB = os.path.join(WORK, "data"), os.path.join(WORK, "imdb")
subprocess.run([sys.executable, os.path.join(INPUTS, "make_series.py"), os.path.join(DATA, "series.csv"), "200"], check=True)
subprocess.run([sys.executable, os.path.join(INPUTS, "make_imdb.py"), os.path.join(IMDB, "aclImdb_v1_labeled.tar.gz")], check=True)
series = os.path.join(WORK, "series.rnn")
shutil.copy(os.path.join(INPUTS, "series.rnn"), series)
imdb = os.path.join(WORK, "imdb_small.rnn")
shutil.copy(os.path.join(INPUTS, "imdb_small.rnn"), imdb)
env = dict(os.environ, XDG_CACHE_HOME=os.path.join(WORK, "cache"))
os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
series_ck, imdb_ck = os.path.join(WORK, "series.safetensors"), os.path.join(WORK, "imdb.safetensors")
for model, ck, d in ((series, series_ck, DATA), (imdb, imdb_ck, IMDB)):
    code, err, _ = run([RNNRUN, model, "--data-dir", d, "-q", "--epochs", "1", "--checkpoint", ck])
    if code != 0:
        sys.exit(f"setup: training {model} failed: {err}")
# Compiled once: the cases run the libraries (no JIT compile per case).
library, imdb_lib = os.path.join(WORK, "series.so"), os.path.join(WORK, "imdb_small.so")
for source, lib_path in ((series, library), (imdb, imdb_lib)):
    code, err, _ = run([RNNC, source, "-o", lib_path])
    if code != 0:
        sys.exit(f"setup: rnnc failed: {err}")
review = os.path.join(WORK, "review.txt")
open(review, "w").write("a wonderful film\n")

jobs = []
jobs += checkpoint_cases(library, series_ck, DATA, ["--predict", os.path.join(DATA, "series.csv")])
jobs += checkpoint_cases(imdb_lib, imdb_ck, IMDB, ["--predict", review])

# --- A damaged model library ---------------------------------------------------
lib = open(library, "rb").read()
for k in range(24):
    b = bytearray(lib)
    for _ in range(rng.choice([1, 1, 2, 8])):
        at = rng.randrange(len(b))
        b[at] ^= 1 << rng.randrange(8)
    path = os.path.join(WORK, "ck", f"flip-{k}.so")
    open(path, "wb").write(bytes(b))
    jobs.append((f"library flip {k}", [RNNRUN, path, "--info"], 1, [path]))
for cut in (16, 100, len(lib) // 2, len(lib) - 1):
    path = os.path.join(WORK, "ck", f"cut-{cut}.so")
    open(path, "wb").write(lib[:cut])
    jobs.append((f"library cut {cut}", [RNNRUN, path, "--info"], 1, [path]))

# --- Text that is not UTF-8 -------------------------------------------------------
junk = [b"caf\xe9", b"\xff\xfe", b"\xc3", b"\xe2\x82", b"\x00", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80", b"na\xefve"]
for k in range(12):
    path = os.path.join(WORK, "text", f"reviews-{k}.txt")
    lines = [b"a " + rng.choice(junk) + b" wonderful " + rng.choice(junk) + b" film" for _ in range(3)]
    open(path, "wb").write(b"\n".join(lines) + b"\n")
    jobs.append((f"predict non-UTF-8 {k}", [RNNRUN, imdb_lib, "--predict", path, "--checkpoint", imdb_ck], 0, [imdb_ck, path]))
import io, tarfile
for k in range(4):
    d = os.path.join(WORK, "text", f"latin1-{k}")
    os.makedirs(d)
    with tarfile.open(os.path.join(d, "aclImdb_v1_labeled.tar.gz"), "w:gz") as tar:
        for split in ("train", "test"):
            for label in ("pos", "neg"):
                for i in range(20):
                    data = b"the movie " + rng.choice(junk) + (b" great" if label == "pos" else b" awful") + rng.choice(junk)
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_{7 if label == 'pos' else 2}.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    jobs.append((f"train non-UTF-8 {k}", [RNNRUN, imdb_lib, "--data-dir", d, "-q", "--epochs", "1"], 0, []))
d = os.path.join(WORK, "text", "huge-review")
os.makedirs(d)
with tarfile.open(os.path.join(d, "aclImdb_v1_labeled.tar.gz"), "w:gz") as tar:
    data = b"great " * (400000)
    info = tarfile.TarInfo("aclImdb/train/pos/0_9.txt")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
jobs.append(("review over the limit", [RNNRUN, imdb_lib, "--data-dir", d, "-q"], 1, []))

# --- CSV dialects and encodings --------------------------------------------------------
text = open(os.path.join(DATA, "series.csv")).read()
dialects = {
    "semicolon": (text.replace(",", ";"), "separator"),
    "tab": (text.replace(",", "\t"), "separator"),
    "semicolon-decimal-comma": (text.replace(",", ";").replace(".", ","), "separator"),
    "utf16": (None, "UTF-16"),
    "utf16-no-bom": (None, "NUL"),
    "cr-only": (text.replace("\n", "\r"), "CR-only"),
    "nul": (text[:50] + "\0" * 4000, "NUL"),
}
for name, (body, word) in dialects.items():
    d = os.path.join(WORK, "csv", name)
    os.makedirs(d)
    path = os.path.join(d, "series.csv")
    if name == "utf16":
        open(path, "wb").write(text.encode("utf-16"))
    elif name == "utf16-no-bom":
        open(path, "wb").write(text.encode("utf-16-le"))
    else:
        open(path, "w", newline="").write(body)
    jobs.append((f"csv {name}", [RNNRUN, library, "--data-dir", d, "-q"], 1, [path], word))
d = os.path.join(WORK, "csv", "directory")
os.makedirs(os.path.join(d, "series.csv"))
jobs.append(("csv is a directory", [RNNRUN, library, "--data-dir", d, "-q"], 1, [], "directory"))
jobs.append(("data-dir missing", [RNNRUN, series, "--data-dir", os.path.join(WORK, "nowhere"), "-q"], 2, [], "does not exist"))
# The csv block's separator and decimal settings read a European export.
d = os.path.join(WORK, "csv", "european")
os.makedirs(d)
open(os.path.join(d, "series.csv"), "w").write(text.replace(",", ";").replace(".", ","))
euro = os.path.join(d, "euro.rnn")
open(euro, "w").write(open(series).read().replace('split=[0.6, 0.2, 0.2]', 'split=[0.6, 0.2, 0.2] separator=";" decimal=","'))
jobs.append(("csv european settings", [RNNRUN, euro, "--data-dir", d, "-q", "--epochs", "1"], 0, []))

# --- Output paths ------------------------------------------------------------------
out = os.path.join(WORK, "out")
fifo = os.path.join(out, "fifo")
os.mkfifo(fifo)
folder = os.path.join(out, "folder")
os.makedirs(folder)
ck_copy = os.path.join(out, "kept.safetensors")
shutil.copy(series_ck, ck_copy)
report = os.path.join(out, "report.json")
open(report, "w").write("{}")
hostile = {"/dev/null": "/dev/null", "fifo": fifo, "folder": folder, "source": series, "library": library,
           "checkpoint": ck_copy, "missing-dir": os.path.join(out, "no", "such", "file"), "report": report}
for flag in ("--json", "--plot", "--checkpoint"):
    for name, target in hostile.items():
        if (flag, name) in (("--json", "report"), ("--checkpoint", "checkpoint")):
            continue  # the kind it writes: allowed
        keep = [p for p in (target, series, library, ck_copy, report) if os.path.lexists(p)]
        jobs.append((f"output {flag} {name}", [RNNRUN, library, "--data-dir", DATA, "-q", "--epochs", "1", flag, target],
                     2, keep))
        link = os.path.join(out, f"link{flag}-{name}".replace("/", "_"))
        os.symlink(target, link)
        jobs.append((f"output {flag} symlink to {name}",
                     [RNNRUN, library, "--data-dir", DATA, "-q", "--epochs", "1", flag, link], 2, keep + [link]))
for emit, name, target in [([], "source", series), ([], "checkpoint", ck_copy), ([], "fifo", fifo), ([], "/dev/null", "/dev/null"),
                           (["--emit=ir"], "library", library), (["--emit=ir"], "checkpoint", ck_copy),
                           (["--emit=llvm"], "source", series), (["--emit=obj"], "folder", folder)]:
    keep = [p for p in (target, series, library, ck_copy) if os.path.lexists(p)]
    jobs.append((f"rnnc -o {name} {emit}", [RNNC, series] + emit + ["-o", target], 2, keep))

# --- Conflicting flags ---------------------------------------------------------------
for flags in (["--eval", "--resume"], ["--eval", "--predict", review], ["--predict", review, "--resume"],
              ["--forward", "--eval"], ["-O", "42"], ["-O", "-1"], ["--threads", "0"], ["--threads", "1000"],
              ["--json", os.path.join(out, "same"), "--plot", os.path.join(out, "same")]):
    jobs.append((f"flags {' '.join(flags)}", [RNNRUN, library, "--data-dir", DATA, "--checkpoint", series_ck] + flags, 2,
                 [series_ck]))
for flags in (["--plan", "imperative"], ["--target-cpu", "x86-64"], ["-O", "3"]):
    jobs.append((f"flags .so {' '.join(flags)}", [RNNRUN, library, "--info"] + flags, 2, [library]))
# The JIT never runs code for a CPU this machine lacks.
for cpu in ("bdver4", "bdver2", "sapphirerapids", "znver4", "knl", "x86-64"):
    jobs.append((f"jit target {cpu}", [RNNRUN, series, "--target-cpu", cpu, "--forward"], None, [], "lacks"))


def execute(job):
    label, args, want, keep = job[:4]
    message = job[4] if len(job) > 4 else "error:"
    if want is None:  # either runs (exit 0) or is refused (exit 1) with the message
        code, err, _ = run(args)
        if code < 0 or code not in (0, 1) or (code == 1 and message not in err):
            failures.append(f"{label}: exit {code}\n    {err.strip()[-300:]}")
        return
    check(label, args, want, keep, message)


with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
    list(pool.map(execute, jobs))

# --- Signals while waiting for input -----------------------------------------------------
signal_cases = 0
for sig in (signal.SIGINT, signal.SIGTERM):
    for source in ("fifo", "stdin"):
        args = [RNNRUN, imdb_lib, "--checkpoint", imdb_ck, "--predict", fifo if source == "fifo" else "-"]
        p = subprocess.Popen(args, stdin=subprocess.PIPE if source == "stdin" else None, stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL)
        time.sleep(4)  # past start-up: the handlers are installed, it waits for input
        p.send_signal(sig)
        try:
            p.wait(timeout=20)  # stdin stays open: only the signal can end it
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            failures.append(f"signal {sig.name} while reading {source}: ignored (still running)")
            continue
        if p.stdin:
            p.stdin.close()
        err = p.stderr.read()
        signal_cases += 1
        if p.returncode != 3 or b"interrupted" not in err:
            failures.append(f"signal {sig.name} while reading {source}: exit {p.returncode}: {err.decode()[-300:]}")

total = len(jobs) + 4
print(f"{total} cases, {len(failures)} failed")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
