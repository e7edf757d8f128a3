#!/usr/bin/env python3
"""Mutation check: plants each mutant of mutants.txt, one at a time, in a
scratch copy of the tree, rebuilds it incrementally and runs a fast, targeted
part of the suite against it. A mutant is KILLED when a test fails, SURVIVED
when all pass (EQUIVALENT instead when mutants.txt argues, in a comment
starting "# EQUIVALENT", that no test can tell it apart), STALE when its original text is no longer in its file (or no
longer unique), BUILD-FAILED when the mutated tree does not compile.

    python3 scripts/mutants/run.py [--scratch DIR] [--only NAME,...] [--baseline-exclude FILTER]

--baseline-exclude takes a GoogleTest negative filter (Suite.Name:...): the
tests matching it are run only when every other test passed, and the report
gives two scores, "baseline" (the suite without those tests) and "full".
The scratch copy and its build directory are kept between runs (default
/tmp/rnnc-mutants-<user>), so a rerun only rebuilds what changed.
"""
import argparse, os, re, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = ["codegen_tests", "runtime_tests", "passes_tests", "lower_tests", "ir_tests"]
# (binary, GoogleTest filter): the tests that run every kernel, the runtime's
# update and threading, autodiff, shape inference and the reference against
# each other. Each run stops at its first failure. codegen_tests' Plans and
# runtime_tests' Resume (forward passes of large models, two minutes on 2 busy cores) are
# left out to keep the whole check under 30 minutes.
TESTS = [
    ("test/unit/passes_tests", "*"),
    ("test/unit/ir_tests", "*"),
    ("test/unit/lower_tests", "*"),
    ("test/unit/codegen_tests", "Training.*:FastMath.*"),
    ("test/unit/runtime/runtime_tests", "Threads.*"),
]


def parse(path):
    mutants, current = [], None
    for number, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if line.startswith("## "):
            name, _, about = line[3:].partition(":")
            current = {"name": name.strip(), "about": about.strip(), "file": None, "old": [], "new": [], "line": number}
            mutants.append(current)
        elif current is not None and line.startswith("# EQUIVALENT"):
            current["equivalent"] = True
        elif current is None or line.startswith("#") or not line.strip():
            continue
        elif line.startswith("@ "):
            current["file"] = line[2:].strip()
        elif line.startswith("- ") or line == "-":
            current["old"].append(line[2:])
        elif line.startswith("+ ") or line == "+":
            current["new"].append(line[2:])
        else:
            sys.exit(f"{path}:{number}: expected '## ', '@ ', '- ', '+ ' or '#': {line!r}")
    for m in mutants:
        if not m["file"] or not m["old"]:
            sys.exit(f"{path}:{m['line']}: mutant {m['name']} needs '@ file' and '- original' lines")
        m["old"], m["new"] = "\n".join(m["old"]), "\n".join(m["new"])
    return mutants


def sync(scratch):
    """Copies the tree's tracked and untracked (not ignored) files into the
    scratch copy, writing only files whose content differs (so ninja rebuilds
    only what changed), and removes files the tree no longer has."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    files = [f for f in files if f and os.path.isfile(os.path.join(ROOT, f))]
    for f in files:
        src, dst = os.path.join(ROOT, f), os.path.join(scratch, f)
        data = open(src, "rb").read()
        if os.path.exists(dst) and open(dst, "rb").read() == data:
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst + ".tmp", "wb") as out:
            out.write(data)
        shutil.copymode(src, dst + ".tmp")
        os.replace(dst + ".tmp", dst)


def build(scratch, log):
    bdir = os.path.join(scratch, "build")
    env = dict(os.environ, CCACHE_BASEDIR=scratch, CCACHE_NOHASHDIR="1")
    if not os.path.exists(os.path.join(bdir, "build.ninja")):
        subprocess.run(["cmake", "-S", scratch, "-B", bdir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                        "-DRNNC_SANITIZED_TOOLS=OFF", "-DCMAKE_C_COMPILER_LAUNCHER=ccache",
                        "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"], check=True, stdout=log, stderr=log, env=env)
    return subprocess.run(["cmake", "--build", bdir, "-j", str(os.cpu_count() or 2), "--target"] + TARGETS,
                          stdout=log, stderr=log, env=env).returncode == 0


def run_tests(scratch, log, gfilter_of):
    """Runs TESTS; returns the names of the failed tests (empty: all passed)."""
    for binary, gfilter in TESTS:
        f = gfilter_of(gfilter)
        if f is None:
            continue
        try:
            p = subprocess.run([os.path.join(scratch, "build", binary), "--gtest_filter=" + f, "--gtest_fail_fast",
                                "--gtest_brief=1"], capture_output=True, text=True, timeout=900)
            out, rc = p.stdout + p.stderr, p.returncode
        except subprocess.TimeoutExpired:
            out, rc = "timed out", 1
        log.write(out)
        if rc != 0:
            failed = re.findall(r"\[  FAILED  \] (\S+)", out)
            return sorted(set(failed)) or [os.path.basename(binary) + " (exit " + str(rc) + ")"]
    return []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scratch", default=f"/tmp/rnnc-mutants-{os.environ.get('USER', 'user')}")
    ap.add_argument("--list", default=os.path.join(ROOT, "scripts", "mutants", "mutants.txt"))
    ap.add_argument("--only", default="", help="comma-separated mutant names")
    ap.add_argument("--baseline-exclude", default="", help="GoogleTest filter of the tests left out of the baseline")
    ap.add_argument("--filter", default="", help="GoogleTest filter run instead of the default tests (e.g. to see "
                    "which mutants one test kills on its own)")
    args = ap.parse_args()
    if args.filter:
        TESTS[:] = [(binary, args.filter) for binary in dict(TESTS)]
    mutants = parse(args.list)
    if args.only:
        wanted = set(args.only.split(","))
        mutants = [m for m in mutants if m["name"] in wanted]
    scratch = os.path.abspath(args.scratch)
    if scratch == ROOT or ROOT.startswith(scratch + os.sep):
        sys.exit("the scratch directory must not be the tree or above it")
    os.makedirs(scratch, exist_ok=True)
    log = open(os.path.join(scratch, "mutants.log"), "w")
    start = time.time()
    print(f"syncing {ROOT} -> {scratch}, building {' '.join(TARGETS)} (unmutated)", flush=True)
    sync(scratch)
    if not build(scratch, log):
        sys.exit(f"the unmutated tree does not build; see {scratch}/mutants.log")
    excl = args.baseline_exclude
    base = lambda g: g + "-" + excl if excl else g  # TESTS' filters are all positive
    # The unmutated tree must pass, or every mutant would look killed.
    if run_tests(scratch, log, base) or (excl and run_tests_new(scratch, log, excl)):
        sys.exit(f"the unmutated tree fails the tests; see {scratch}/mutants.log")
    results = []
    for m in mutants:
        t0 = time.time()
        path = os.path.join(scratch, m["file"])
        text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
        count = text.count(m["old"])
        if count != 1:
            status, detail, killers_base = "STALE", ("original text not found" if count == 0 else f"original text found {count} times"), None
        else:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text.replace(m["old"], m["new"]))
            log.write(f"\n===== {m['name']}\n")
            try:
                if not build(scratch, log):
                    status, detail, killers_base = "BUILD-FAILED", "", None
                else:
                    killers_base = run_tests(scratch, log, base)
                    killers = killers_base or (run_tests_new(scratch, log, excl) if excl else [])
                    status = "KILLED" if killers else "EQUIVALENT" if m.get("equivalent") else "SURVIVED"
                    detail = ", ".join(killers[:3])
            finally:
                with open(path, "w", encoding="utf-8") as out:
                    out.write(text)
        m.update(status=status, detail=detail, base_killed=bool(killers_base), secs=time.time() - t0)
        tag = status if not (excl and status == "KILLED") else ("KILLED (baseline too)" if killers_base else "KILLED (new tests only)")
        print(f"{m['name']:42s} {tag:24s} {m['secs']:5.0f}s  {detail}", flush=True)
        results.append(m)
    build(scratch, log)  # leave the scratch build unmutated
    counts = {s: sum(m["status"] == s for m in results) for s in ("KILLED", "SURVIVED", "EQUIVALENT", "STALE", "BUILD-FAILED")}
    scored = counts["KILLED"] + counts["SURVIVED"]
    print(f"\n{len(results)} mutants: " + ", ".join(f"{v} {k.lower()}" for k, v in counts.items()))
    if scored:
        print(f"score (full suite): {counts['KILLED']}/{scored} = {100.0 * counts['KILLED'] / scored:.0f}%")
        if excl:
            b = sum(m.get("base_killed", False) for m in results)
            print(f"score (baseline, without {excl}): {b}/{scored} = {100.0 * b / scored:.0f}%")
    if counts["EQUIVALENT"]:
        print(f"({counts['EQUIVALENT']} equivalent, argued in {args.list}, are not scored)")
    print(f"run time {time.time() - start:.0f}s; log {scratch}/mutants.log")
    return 1 if counts["SURVIVED"] or counts["STALE"] else 0


def run_tests_new(scratch, log, excl):
    """Runs only the tests the baseline leaves out (in every binary; one
    without them runs none)."""
    return run_tests(scratch, log, lambda g: excl)


if __name__ == "__main__":
    sys.exit(main())
