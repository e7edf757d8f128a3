"""Writes a tiny aclImdb_v1_labeled.tar.gz in the official layout: positive
reviews praise, negative ones complain, so a small model can learn them."""
import io
import random
import sys
import tarfile

path = sys.argv[1]
rng = random.Random(7)
good = ["great", "wonderful", "superb", "loved", "brilliant", "moving", "best"]
bad = ["awful", "boring", "terrible", "hated", "worst", "dull", "waste"]
filler = ["the", "movie", "film", "plot", "actors", "was", "and", "a", "it", "story", "<br />"]
with tarfile.open(path, "w:gz") as tar:
    def add(name, text):
        data = text.encode()
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    for split in ("train", "test"):
        for label, words in (("pos", good), ("neg", bad)):
            for i in range(60):
                review = " ".join(rng.choice(filler + words + words) for _ in range(rng.randint(8, 40)))
                add(f"aclImdb/{split}/{label}/{i}_{8 if label == 'pos' else 2}.txt", review.capitalize() + ".")
