"""Writes a small deterministic multivariate series: three features, a target
that depends on the previous rows, and a date column to skip."""
import math
import sys

path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as out:
    out.write("date,a,b,target\n")
    previous = 0.0
    for i in range(rows):
        a = math.sin(i / 7.0)
        b = math.cos(i / 11.0)
        target = 0.6 * previous + 0.3 * a + 0.1 * b + 5.0
        out.write(f"2020-01-01 {i:05d},{a:.6f},{b:.6f},{target:.6f}\n")
        previous = target - 5.0
