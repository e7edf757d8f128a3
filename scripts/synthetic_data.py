#!/usr/bin/env python3
"""Writes synthetic stand-ins for the two data sets, with the real ones' layout and
sizes, for machines that have neither: the main job (scripts/main.sh) uses them when
no data directory holds the real files, and says so.

usage: synthetic_data.py OUT_DIR [--reviews N]

  OUT_DIR/ETTh1.csv         17420 hourly rows, columns date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT:
                            daily and yearly cycles, the oil temperature OT following the
                            loads with a lag, plus noise
  OUT_DIR/aclImdb/{train,test}/{pos,neg}/ID_RATING.txt
                            N reviews per folder (default 12500, as IMDB): made-up words
                            with sentiment words whose frequencies depend on the label

Deterministic (fixed seeds). Nothing here is real data: accuracy and R^2 measured on it
say only that training works.
"""
import argparse
import datetime
import math
import os
import random

POSITIVE = ["good", "great", "excellent", "wonderful", "loved", "best", "superb", "enjoyed", "fun", "brilliant"]
NEGATIVE = ["bad", "awful", "boring", "worst", "poor", "terrible", "waste", "dull", "hated", "stupid"]


def write_etth1(path, rows=17420):
    rng = random.Random(7)
    start = datetime.datetime(2016, 7, 1)
    loads = [0.0] * 6
    ot = 20.0
    with open(path, "w") as f:
        f.write("date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT\n")
        for t in range(rows):
            day = math.sin(2 * math.pi * t / 24)
            year = math.sin(2 * math.pi * t / (24 * 365))
            for k in range(6):
                target = (8 - k) * (1 + 0.3 * day + 0.2 * year)
                loads[k] += 0.3 * (target - loads[k]) + rng.gauss(0, 0.3)
            ot += 0.05 * (15 + 12 * year + 0.8 * loads[0] - ot) + rng.gauss(0, 0.2)
            stamp = (start + datetime.timedelta(hours=t)).strftime("%Y-%m-%d %H:%M:%S")
            f.write(stamp + "," + ",".join(f"{v:.3f}" for v in loads) + f",{ot:.3f}\n")


def write_imdb(root, per_folder):
    rng = random.Random(42)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe"]
    words = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(8000)})
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = os.path.join(root, "aclImdb", split, label)
            os.makedirs(folder, exist_ok=True)
            own, other = (POSITIVE, NEGATIVE) if label == "pos" else (NEGATIVE, POSITIVE)
            for i in range(per_folder):
                n = rng.randint(40, 400)
                text = []
                for _ in range(n):
                    r = rng.random()
                    text.append(rng.choice(own) if r < 0.03 else rng.choice(other) if r < 0.04 else rng.choice(words))
                rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
                with open(os.path.join(folder, f"{i}_{rating}.txt"), "w") as f:
                    f.write(" ".join(text) + ".<br /><br />The end.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--reviews", type=int, default=12500, help="reviews per folder")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    write_etth1(os.path.join(args.out, "ETTh1.csv"))
    write_imdb(args.out, args.reviews)
    print(f"synthetic data written to {args.out}: ETTh1.csv and aclImdb/ ({4 * args.reviews} reviews)")


if __name__ == "__main__":
    main()
