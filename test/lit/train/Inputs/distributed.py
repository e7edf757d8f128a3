"""Data-parallel rnnrun under mpirun, on loopback (test/lit/train/distributed*.test).

distributed.py determinism MODEL DATA_DIR WORK RANKS THREADS [rnnrun flags...]
  trains MODEL for 2 epochs with `mpirun -np RANKS rnnrun --threads THREADS` and
  with one process of RANKS*THREADS threads, and compares the checkpoints bit
  for bit; then resumes the N-rank checkpoint for one more epoch on a
  different number of ranks and in one process and compares those.
distributed.py shared-data MODEL DATA_DIR WORK
  rank 1 has no data set (rank 0 sends the training split) and writes no cache.
distributed.py resume-rank0 MODEL DATA_DIR WORK
  --resume on 2 ranks in two working directories (two machines), with the same
  relative --data-dir and --checkpoint; only rank 0's holds them: rank 0 alone
  reads the checkpoint and sends it; the run ends with the checkpoint of one
  process resumed with 2 threads, and rank 1's directory stays empty.
distributed.py kill MODEL DATA_DIR WORK
  kills one of 2 ranks with SIGKILL mid-training: mpirun must end within
  seconds, saying which rank died, with the last checkpoint intact.
distributed.py mismatch MODEL OTHER_MODEL DATA_DIR WORK
  rank 1 loads OTHER_MODEL: both are refused before training.
distributed.py interrupt MODEL DATA_DIR WORK
  SIGINT to mpirun: rank 0 alone writes a checkpoint (of the step it names)
  and says so; each rank exits 3, mpirun 1.
distributed.py interrupt-ranks MODEL DATA_DIR WORK
  SIGTERM to every rank: the same, and mpirun exits 3.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time


def mpi_env():
    env = dict(os.environ)
    env.update({
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_btl": "self,tcp", "OMPI_MCA_btl_tcp_if_include": "lo", "OMPI_MCA_oob_tcp_if_include": "lo",
        "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_btl_base_warn_component_unused": "0",
    })
    return env


def mpirun(ranks, args, **kw):
    return ["mpirun", "--oversubscribe", "-np", str(ranks)] + args


def run(cmd, env=None, check=True):
    p = subprocess.run(cmd, env=env or mpi_env(), capture_output=True, text=True)
    if check and p.returncode != 0:
        sys.exit("FAILED (%d): %s\n%s\n%s" % (p.returncode, " ".join(cmd), p.stdout, p.stderr))
    return p


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def same(a, b, what):
    if digest(a) != digest(b):
        sys.exit("DIFFER: %s: %s and %s" % (what, a, b))
    print("identical: %s" % what)


def determinism(model, data, work, ranks, threads, extra):
    ranks, threads = int(ranks), int(threads)
    common = ["rnnrun", model, "--data-dir", data, "--seed", "3"] + extra
    par, one = os.path.join(work, "par.safetensors"), os.path.join(work, "one.safetensors")
    p = run(mpirun(ranks, common + ["--epochs", "2", "--threads", str(threads), "--checkpoint", par, "--json", os.path.join(work, "par.json")]))
    if "data-parallel on %d ranks x %d threads" % (ranks, threads) not in p.stdout:
        sys.exit("no data-parallel line in the report:\n" + p.stdout)
    if p.stdout.count("| test") != 1 or p.stderr.count("epoch 2/2") != 1:
        sys.exit("rank 0 alone must report and print progress:\n" + p.stdout + p.stderr)
    run(common + ["--epochs", "2", "--threads", str(ranks * threads), "--checkpoint", one])
    same(par, one, "%d ranks x %d threads == 1 process x %d threads" % (ranks, threads, ranks * threads))
    # Resume on another number of ranks (same total chunks) and in one process.
    total = ranks * threads
    r2 = max(d for d in range(1, 4) if total % d == 0 and d != ranks)  # another number of ranks, same chunks
    t2 = total // r2
    res_par, res_one = os.path.join(work, "res_par.safetensors"), os.path.join(work, "res_one.safetensors")
    for src, dst in ((par, res_par), (one, res_one)):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())
    run(mpirun(r2, common + ["--epochs", "3", "--resume", "--threads", str(t2), "--checkpoint", res_par]))
    run(common + ["--epochs", "3", "--resume", "--threads", str(total), "--checkpoint", res_one])
    same(res_par, res_one, "resumed on %d ranks x %d threads == 1 process" % (r2, t2))


def shared_data(model, data, work):
    """Rank 0 alone reads the data set (and writes the IMDB cache): rank 1
    runs where there is no data set and with a cache directory of its own, and
    must still train, to the checkpoint of one process of 2 threads."""
    empty = os.path.join(work, "nodata")
    os.makedirs(empty, exist_ok=True)
    caches = [os.path.join(work, "cache0"), os.path.join(work, "cache1")]
    par, one = os.path.join(work, "shared.safetensors"), os.path.join(work, "shared_one.safetensors")
    common = ["rnnrun", model, "--seed", "3", "--epochs", "2", "--checkpoint", par]
    rank = lambda data_dir, cache: ["env", "RNN_DATA_DIR=" + data_dir, "XDG_CACHE_HOME=" + cache] + common
    p = run(["mpirun", "--oversubscribe", "-np", "1"] + rank(data, caches[0]) + [":", "-np", "1"] +
            rank(os.path.join(empty, "missing"), caches[1]), check=False)
    if p.returncode != 0:
        sys.exit("FAILED (%d): rank 1 without the data set\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
    print("rank 1 trained without the data set")
    read = [os.path.join(d, f) for d, _, files in os.walk(caches[1]) for f in files]
    print("rank 1 wrote no cache" if not read else "rank 1 wrote %r" % read)
    run(["env", "RNN_DATA_DIR=" + data, "XDG_CACHE_HOME=" + caches[0], "rnnrun", model, "--seed", "3", "--epochs", "2",
         "--threads", "2", "--checkpoint", one])
    same(par, one, "rank 0 sent the data: 2 ranks x 1 thread == 1 process x 2 threads")


def resume_rank0(model, data, work):
    """Two machines seen as two working directories: the same command line
    (relative --data-dir and --checkpoint) on rank 0, whose directory holds
    the data set and the checkpoint, and on rank 1, whose directory is empty.
    Rank 0 alone reads both; rank 1 writes nothing."""
    machines = [os.path.join(work, "r0_machine0"), os.path.join(work, "r0_machine1")]
    for m in machines:
        shutil.rmtree(m, ignore_errors=True)
        os.makedirs(m)
    os.symlink(os.path.abspath(data), os.path.join(machines[0], "data"))
    par, one = os.path.join(machines[0], "ck.safetensors"), os.path.join(work, "r0_one.safetensors")
    common = ["rnnrun", model, "--data-dir", "data", "--seed", "5"]
    subprocess.run(common + ["--epochs", "1", "--threads", "2", "--checkpoint", "ck.safetensors"], cwd=machines[0],
                   check=True, capture_output=True)
    shutil.copyfile(par, one)
    cmd = common + ["--epochs", "2", "--resume", "--threads", "1", "--checkpoint", "ck.safetensors"]
    p = run(["mpirun", "--oversubscribe", "-np", "1", "--wdir", machines[0]] + cmd + [":", "-np", "1", "--wdir", machines[1]] + cmd,
            check=False)
    if p.returncode != 0:
        sys.exit("FAILED (%d): rank 1 without the data set and the checkpoint\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
    print("rank 1 resumed without the data set and the checkpoint")
    left = os.listdir(machines[1])
    print("rank 1 wrote nothing" if not left else "rank 1 WROTE %r" % left)
    run(common[:3] + [os.path.abspath(data)] + common[4:] + ["--epochs", "2", "--resume", "--threads", "2", "--checkpoint", one])
    same(par, one, "resumed from rank 0's checkpoint on 2 ranks x 1 thread == 1 process x 2 threads")


def kill(model, data, work):
    ck = os.path.join(work, "kill.safetensors")
    cmd = mpirun(2, ["rnnrun", model, "--data-dir", data, "--epochs", "100000", "--checkpoint", ck])
    p = subprocess.Popen(cmd, env=mpi_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not (os.path.exists(ck) and os.path.getsize(ck) > 0):  # a checkpoint from epoch 1
        if time.time() > deadline or p.poll() is not None:
            p.kill()
            sys.exit("no checkpoint appeared:\n" + (p.stdout.read() if p.stdout else ""))
        time.sleep(0.1)
    ranks = subprocess.run(["pgrep", "-P", str(p.pid), "-x", "rnnrun"], capture_output=True, text=True).stdout.split()
    if len(ranks) != 2:
        p.kill()
        sys.exit("expected 2 rank processes under mpirun, found %r" % ranks)
    killed = time.time()
    os.kill(int(ranks[-1]), signal.SIGKILL)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        sys.exit("HANG: mpirun still running 30 s after a rank was killed")
    took = time.time() - killed
    print("mpirun exit code %d after %.1f s" % (p.returncode, took))
    print("stopped within 10 s" if took < 10 else "too slow: %.1f s" % took)
    if "exited on signal 9" in out or "killed" in out.lower():
        print("the death was reported")
    else:
        print("no message about the killed rank:\n" + out)
    # The checkpoint is whole: it resumes.
    run(["rnnrun", model, "--data-dir", data, "--eval", "--checkpoint", ck, "-q"])
    print("checkpoint intact")


def mismatch(model, other, data, work, other_data=None):
    cmd = ["mpirun", "--oversubscribe", "-np", "1", "rnnrun", model, "--data-dir", data, "--epochs", "1", ":",
           "-np", "1", "rnnrun", other, "--data-dir", other_data or data, "--epochs", "1"]
    p = run(cmd, check=False)
    print("exit code %d" % p.returncode)
    errors = [l for l in p.stderr.splitlines() if l.startswith("rnnrun: error:")]
    print(errors[0] if errors else "(no message)\n" + p.stderr)
    if "epoch 1/1" in p.stderr:
        print("TRAINED ANYWAY")


def training_position(path):
    """(epoch, step) of a checkpoint's training.epoch and training.step (I64)."""
    import json
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        values = []
        for name in ("training.epoch", "training.step"):
            begin, end = header[name]["data_offsets"]
            f.seek(base + begin)
            values.append(struct.unpack("<q", f.read(end - begin))[0])
    return tuple(values)


def interrupt(model, data, work, target="mpirun"):
    """SIGINT to mpirun (Ctrl-C), or SIGTERM to every rank (what a batch system
    sends): all ranks stop after the same step, rank 0 alone writes the
    checkpoint and says so, once, and every rank exits 3 after MPI_Finalize.
    With SIGINT to mpirun, each rank runs under rank_status.py, which records
    its exit status (mpirun's own is 1 whatever the ranks return)."""
    ck = os.path.join(work, "int-%s.safetensors" % target)
    statuses = os.path.join(work, "int-%s-status" % target)
    os.makedirs(statuses, exist_ok=True)
    for f in os.listdir(statuses):
        os.remove(os.path.join(statuses, f))
    wrap = ["python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "rank_status.py"), statuses]
    # -q: mpirun reads no output while it waits to signal the ranks (below);
    # rank 0's epoch lines would fill the pipe and block it.
    rnnrun = ["rnnrun", model, "--data-dir", data, "--epochs", "100000", "--checkpoint", ck, "-q"]
    cmd = mpirun(2, (wrap if target == "mpirun" else []) + rnnrun)
    # On Ctrl-C mpirun sends SIGCONT, waits odls_base_sigkill_timeout seconds
    # (default 1), sends SIGTERM, waits as long again, then SIGKILL: the ranks
    # have that long to finish the step and the checkpoint.
    env = dict(mpi_env(), OMPI_MCA_odls_base_sigkill_timeout="5")
    if os.path.exists(ck):  # from an earlier run: wait for this run's
        os.remove(ck)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not os.path.exists(ck):
        if time.time() > deadline or p.poll() is not None:
            p.kill()
            sys.exit("no checkpoint appeared")
        time.sleep(0.1)
    os.remove(ck)
    if target == "mpirun":
        p.send_signal(signal.SIGINT)
    else:
        ranks = subprocess.run(["pgrep", "-P", str(p.pid), "-x", "rnnrun"], capture_output=True, text=True).stdout.split()
        if len(ranks) != 2:
            p.kill()
            sys.exit("expected 2 rank processes under mpirun, found %r" % ranks)
        for rank in ranks:
            os.kill(int(rank), signal.SIGTERM)
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        sys.exit("HANG after the signal")
    # Open MPI's mpirun exits 1 for a job it ended on Ctrl-C, whatever the
    # ranks' status; when the ranks were signalled, it exits with theirs.
    print("mpirun exit code %d" % p.returncode)
    lines = [l for l in out.splitlines() if l.startswith("rnnrun:")]
    print("\n".join(lines) if lines else "(no line from rnnrun)\n" + out)
    if target == "mpirun":
        for rank in (0, 1):
            path = os.path.join(statuses, "rank-%d" % rank)
            status = open(path).read().split()[:2] if os.path.exists(path) else ["no", "status (killed?)"]
            print("rank %d %s" % (rank, " ".join(status)))
    if not os.path.exists(ck):
        print("NO CHECKPOINT")
        return
    print("checkpoint written")
    # The checkpoint holds the step the line names: E-1 epochs done, S steps into epoch E.
    said = [l for l in lines if "interrupted at epoch" in l]
    words = said[0].replace(",", "").replace(";", "").split() if said else []
    if words:
        epoch, step = int(words[words.index("epoch") + 1]), int(words[words.index("step") + 1])
        print("checkpoint at the step said" if training_position(ck) == (epoch - 1, step) else
              "checkpoint at %r, the line says epoch %d step %d" % (training_position(ck), epoch, step))
    p = run(["rnnrun", model, "--data-dir", data, "--eval", "--checkpoint", ck, "-q"])
    print("checkpoint resumes" if "| test" in p.stdout else "checkpoint unusable")


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    {"determinism": lambda: determinism(args[0], args[1], args[2], args[3], args[4], args[5:]),
     "kill": lambda: kill(*args), "resume-rank0": lambda: resume_rank0(*args), "shared-data": lambda: shared_data(*args), "mismatch": lambda: mismatch(*args),
     "mismatch-data": lambda: mismatch(args[0], args[0], args[1], args[3], args[2]), "interrupt": lambda: interrupt(*args),
     "interrupt-ranks": lambda: interrupt(*args, target="ranks")}[what]()
