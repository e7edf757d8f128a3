"""Compares rnnrun --forward's printed outputs with torch's, one value a line."""
import re
import sys

rnnc = [float(v) for line in open(sys.argv[1]) if line.strip().startswith("[") for v in line.split("]")[1].split()]
torch = [float(v) for v in open(sys.argv[2]).read().split()]
assert len(rnnc) == len(torch), (len(rnnc), len(torch))
worst = max(abs(a - b) for a, b in zip(rnnc, torch))
assert worst < 1e-4, worst
print(f"{len(rnnc)} outputs agree within {worst:.1e}")
