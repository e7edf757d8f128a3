"""Resuming with another --batch continues the interrupted epoch (issue 13):
the samples trained in that epoch before the interrupt (the checkpoint's
training.epoch_samples) and after the resume add up to one epoch of the
uninterrupted run, nothing skipped or repeated.

resume_batch.py RNNRUN MODEL DATA_DIR WORK BATCH RESUME_BATCH

1. one uninterrupted epoch (--json): its sample count N;
2. a long run of --batch BATCH, interrupted with SIGINT mid-epoch: the
   checkpoint says epoch E (0-based, in progress) and S samples done;
3. --resume with --batch RESUME_BATCH and --epochs E+1: its JSON must hold
   one record, epoch E+1, of N - S samples;
4. the check itself: the same resume from a copy without
   training.epoch_samples (the resume then counts steps of the new batch)
   must not add up.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import time

rnnrun, model, data, work, batch, resume_batch = sys.argv[1:7]
base = [rnnrun, model, "--data-dir", data, "-q"]


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def epochs_of(path):
    with open(path) as f:
        return json.load(f)["epochs"]


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + length]), blob[8 + length:]


def counter(path, name):
    header, body = read_safetensors(path)
    begin, end = header[name]["data_offsets"]
    return struct.unpack("<q", body[begin:end])[0]


def without(path, name, out):
    """A copy of the checkpoint without tensor `name` (the data section stays
    exactly covered by the tensors)."""
    header, body = read_safetensors(path)
    meta = header.pop("__metadata__", None)
    begin, end = header.pop(name)["data_offsets"]
    for t in header.values():
        b, e = t["data_offsets"]
        if b >= end:
            t["data_offsets"] = [b - (end - begin), e - (end - begin)]
    if meta is not None:
        header["__metadata__"] = meta
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body[:begin] + body[end:])


# 1. One uninterrupted epoch.
code, out = run(base + ["--epochs", "1", "--batch", batch, "--json", os.path.join(work, "ref.json")])
if code != 0:
    sys.exit("reference run failed (%d): %s" % (code, out))
total = epochs_of(os.path.join(work, "ref.json"))[0]["samples"]

# 2. Interrupted mid-epoch (retried in the rare case the signal lands on an
# epoch's last step).
ck = os.path.join(work, "ck.safetensors")
for attempt in range(5):
    if os.path.exists(ck):
        os.remove(ck)
    p = subprocess.Popen(base[:-1] + ["--epochs", "100000", "--batch", batch, "--checkpoint", ck],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stderr.readline()  # the data line: the handlers are installed
    time.sleep(1.0 + 0.3 * attempt)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    if p.returncode != 3:
        sys.exit("interrupted run exited %d" % p.returncode)
    epoch, done = counter(ck, "training.epoch"), counter(ck, "training.epoch_samples")
    if 0 < done < total:
        break
else:
    sys.exit("no interrupt landed mid-epoch")
print("interrupted mid-epoch with batch %s" % batch)


# 3. Resume with another batch to the end of that epoch.
def resumed(checkpoint, tag):
    report = os.path.join(work, "resumed-%s.json" % tag)
    code, out = run(base + ["--resume", "--checkpoint", checkpoint, "--epochs", str(epoch + 1), "--batch",
                            resume_batch, "--json", report])
    if code != 0:
        return None, out
    return epochs_of(report), out


records, out = resumed(ck, "kept")
if records is None:
    sys.exit("resume failed: " + out)
if [r["epoch"] for r in records] != [epoch + 1]:
    sys.exit("the resume trained epochs %r, not the rest of epoch %d" % ([r["epoch"] for r in records], epoch + 1))
rest = records[0]["samples"]
if done + rest == total:
    print("resumed with batch %s: before + after the interrupt = one uninterrupted epoch" % resume_batch)
else:
    print("SKIPPED OR REPEATED: %d before + %d after the interrupt, an epoch is %d" % (done, rest, total))

# 4. The check catches a resume that ignores training.epoch_samples.
stripped = os.path.join(work, "ck-no-samples.safetensors")
without(ck, "training.epoch_samples", stripped)
records, out = resumed(stripped, "stripped")
if records is not None and len(records) == 1 and done + records[0]["samples"] == total:
    print("THE CHECK DOES NOT SEE a resume that ignores training.epoch_samples")
else:
    print("the check fails on a resume that ignores training.epoch_samples")
