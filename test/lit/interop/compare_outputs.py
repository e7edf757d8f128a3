"""Compares rnnrun --forward's printed outputs with torch's (one value a line)
or with another rnnrun --forward's."""
import re
import sys



def rnnrun_values(path):
    return [float(v) for line in open(path) if line.strip().startswith("[") for v in line.split("]")[1].split()]


rnnc = rnnrun_values(sys.argv[1])
text = open(sys.argv[2]).read()
torch = rnnrun_values(sys.argv[2]) if text.startswith("output ") else [float(v) for v in text.split()]
assert len(rnnc) == len(torch), (len(rnnc), len(torch))
worst = max(abs(a - b) for a, b in zip(rnnc, torch))
assert worst < 1e-4, worst
print(f"{len(rnnc)} outputs agree within {worst:.1e}")
