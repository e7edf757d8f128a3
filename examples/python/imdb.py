"""IMDB sentiment with a 2-layer bidirectional LSTM, written as a Keras user would:
  /usr/bin/python3 examples/python/imdb.py [--quick] [--data-dir DIR] [--threads N]
The network is models/imdb_bilstm.rnn (embedding 20000x64 -> BiLSTM 128 x 2 -> dense 2);
the data, aclImdb_v1*.tar.gz, is found as rnnrun finds it ($RNN_DATA_DIR, ./data, ../shared/data).
"""
import argparse, os
import numpy as np
import rnnc

parser = argparse.ArgumentParser(description="Train the IMDB BiLSTM, evaluate it, predict.")
parser.add_argument("--quick", action="store_true", help="2 epochs on 2000 reviews per split")
parser.add_argument("--data-dir", help="where the IMDB tarball is")
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

model = rnnc.compile(os.path.join(os.path.dirname(__file__), "../../models/imdb_bilstm.rnn"))
data = rnnc.datasets.load("imdb", model, data_dir=args.data_dir, limit=2000 if args.quick else 0)
(x_train, y_train), (x_val, y_val), (x_test, y_test) = data     # token ids [n, 256], labels 0/1

model.fit(x_train, y_train, epochs=2 if args.quick else 7, batch_size=64 if args.quick else 256,
          validation_data=(x_val, y_val), threads=args.threads, checkpoint="imdb.safetensors")
print("test:", model.evaluate(x_test, y_test))

reviews = ["A wonderful film: the best acting I have seen in years.", "Dull, predictable and far too long."]
logits = model.predict(data.encode(reviews))
for review, p in zip(reviews, np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)):
    print(f"{p:.3f} positive: {review}")
