#!/usr/bin/env python3
"""Robustness test: malformed models give a located error, never a crash.

Derives a deterministic corpus of malformed inputs from the models in
models/ (truncations, deleted / duplicated / swapped tokens, random bytes,
huge numbers, deep nesting, empty files, non-UTF-8 encodings) and runs the
sanitized compiler (ASan + UBSan) on each. Every input must give exit code 1,
at least one `path:line:col: error:` line, no signal and no sanitizer report.

usage: malformed_inputs.py RNNC_ASAN MODELS_DIR WORK_DIR [--keep]
Failing inputs are left in WORK_DIR/failures for reproduction.
"""
import concurrent.futures
import os
import random
import re
import shutil
import signal
import subprocess
import sys

TOKEN = re.compile(
    r'//[^\n]*|/\*.*?\*/|\s+'                     # skipped: comments, space
    r'|(?P<tok>"(?:[^"\\\n]|\\.)*"'               # string
    r'|\d+\.\d*(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?'  # number
    r'|[A-Za-z_][A-Za-z0-9_]*|[-=:,{}()\[\]])',   # name, punctuation
    re.S)
LOCATED_ERROR = re.compile(rb'^\S+:\d+:\d+: error: ', re.M)
SANITIZER = re.compile(rb'Sanitizer|runtime error:')
# Bytes that are never valid in a .rnn file, wherever they stand.
INVALID_BYTES = [b'\xff', b'\xfe', b'\xc0', b'\x80', b'\x00', b'\xf8', b'\xc3(']
# Characters that are never valid outside strings and comments.
JUNK = ['$', '@', '!', '?', ';', '~', '^', '&', '|', '#', '%', '`', "'", '\\']


def tokens(text):
    """(start, end) of each token, comments and white space skipped."""
    return [(m.start('tok'), m.end('tok')) for m in TOKEN.finditer(text) if m.group('tok')]


def mutants(name, text, rng):
    """Yields (label, bytes) malformed variants of one model."""
    data = text.encode()
    toks = tokens(text)
    closing = text.rindex('}')
    # 1. Truncations anywhere before the model's closing brace.
    for k in range(20):
        cut = 1 + (closing - 1) * k // 20
        yield f'truncate-{cut}', data[:cut]
    picks = sorted(rng.sample(range(len(toks)), min(15, len(toks))))
    # 2. A token deleted.
    for i in picks:
        s, e = toks[i]
        yield f'delete-{i}', (text[:s] + text[e:]).encode()
    # 3. A token duplicated.
    for i in picks:
        s, e = toks[i]
        yield f'duplicate-{i}', (text[:e] + ' ' + text[s:e] + text[e:]).encode()
    # 4. Two adjacent, different tokens swapped.
    swaps = [i for i in range(len(toks) - 1)
             if text[toks[i][0]:toks[i][1]] != text[toks[i + 1][0]:toks[i + 1][1]]]
    for i in sorted(rng.sample(swaps, min(15, len(swaps)))):
        (s1, e1), (s2, e2) = toks[i], toks[i + 1]
        yield f'swap-{i}', (text[:s1] + text[s2:e2] + text[e1:s2] + text[s1:e1] + text[e2:]).encode()
    # 5. Bytes that are not UTF-8 (or NUL) at random places.
    for k in range(10):
        at = rng.randrange(len(data) + 1)
        junk = b''.join(rng.choice(INVALID_BYTES) for _ in range(rng.randint(1, 4)))
        yield f'bytes-{at}', data[:at] + junk + data[at:]
    # 6. Stray characters between tokens.
    for k in range(5):
        s, _ = toks[rng.randrange(len(toks))]
        yield f'junk-{s}', (text[:s] + rng.choice(JUNK) + ' ' + text[s:]).encode()
    # 7. Numbers too large for their type.
    numbers = [t for t in toks if text[t[0]].isdigit()]
    for (s, e), huge in zip(rng.sample(numbers, min(3, len(numbers))),
                             ['99999999999999999999999', '1e999', '18446744073709551616']):
        yield f'huge-{s}', (text[:s] + huge + text[e:]).encode()
    # 8. Nesting far deeper than the parser accepts, as calls and as lists.
    depth = 5000 + rng.randrange(5000)
    body = text[:closing]
    yield 'deep-calls', (body + '\n  deep = ' + 'relu(' * depth + 'x' + ')' * depth + '\n}\n').encode()
    yield 'deep-list', ('const DEEP = ' + '[' * depth + ']' * depth + '\n' + text).encode()
    # 9. The same model in UTF-16 and with a Latin-1 character in a comment.
    yield 'utf16', text.encode('utf-16')
    yield 'latin1', ('// caf\u00e9 au lait\n' + text).encode('latin-1', errors='replace')


def corpus(models_dir):
    rng = random.Random(20261127)
    cases = [('empty', b''), ('blank', b' \n\t\n'), ('comment-only', b'// nothing here\n/* nor here */\n'),
             ('only-const', b'const A = 1\n')]
    for path in sorted(os.listdir(models_dir)):
        if path.endswith('.rnn'):
            with open(os.path.join(models_dir, path), encoding='utf-8') as f:
                text = f.read()
            stem = path[:-4]
            cases += [(f'{stem}.{label}', data) for label, data in mutants(path, text, rng)]
    # Random positions can repeat (two stray characters before the same
    # token): each case gets its own label, so that no two cases share a file
    # while they run in parallel.
    seen = {}
    unique = []
    for label, data in cases:
        seen[label] = seen.get(label, 0) + 1
        unique.append((label if seen[label] == 1 else f'{label}.{seen[label]}', data))
    assert len({label for label, _ in unique}) == len(unique), 'duplicate case labels'
    return unique


def run_case(rnnc, work, label, data):
    path = os.path.join(work, label + '.rnn')
    with open(path, 'wb') as f:
        f.write(data)
    env = dict(os.environ,
               ASAN_OPTIONS='detect_leaks=1:abort_on_error=0:exitcode=86',
               UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1:exitcode=87')
    try:
        proc = subprocess.run([rnnc, path, '--emit=ir'], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60)
    except subprocess.TimeoutExpired:
        return label, path, 'timed out after 60 s'
    problems = []
    if proc.returncode < 0:
        problems.append(f'killed by signal {signal.Signals(-proc.returncode).name}')
    elif proc.returncode != 1:
        problems.append(f'exit code {proc.returncode}, expected 1')
    if SANITIZER.search(proc.stderr):
        problems.append('sanitizer report')
    if not LOCATED_ERROR.search(proc.stderr):
        problems.append('no "path:line:col: error:" line')
    if problems:
        return label, path, '; '.join(problems) + '\n' + proc.stderr.decode(errors='replace')[-2000:]
    os.remove(path)
    return label, path, None


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    rnnc, models_dir, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    # The sanitized compiler must accept the originals, or every error below
    # would prove nothing.
    for path in sorted(os.listdir(models_dir)):
        if path.endswith('.rnn'):
            proc = subprocess.run([rnnc, os.path.join(models_dir, path), '--emit=ir'],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if proc.returncode != 0:
                print(f'FAIL: the unmodified model {path} does not compile:\n{proc.stderr.decode()}')
                return 1
    cases = corpus(models_dir)
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for label, path, problem in pool.map(lambda c: run_case(rnnc, work, *c), cases):
            if problem:
                failures.append((label, path, problem))
    for label, path, problem in failures:
        print(f'FAIL: {label} ({path}): {problem}')
    passed = len(cases) - len(failures)
    print(f'{len(cases)} malformed inputs from {models_dir}')
    print(f'{passed} passed, {len(failures)} failed')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
