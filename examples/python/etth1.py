"""ETTh1: the next hour's oil temperature from the last 24 hours, with an LSTM.

The seed comparison's time-series task, written as a Keras user would:
  /usr/bin/python3 examples/python/etth1.py [--quick] [--data-dir DIR]
The network is models/etth1_lstm.rnn (LSTM 64 -> dense 1 -> dropout -> dense 1, MSE, Adam);
the data, ETTh1.csv, is found as rnnrun finds it ($RNN_DATA_DIR, ./data, ../shared/data).
"""
import argparse, os
import rnnc

parser = argparse.ArgumentParser(description="Train the ETTh1 LSTM, evaluate it, predict.")
parser.add_argument("--quick", action="store_true", help="3 epochs instead of 60")
parser.add_argument("--data-dir", help="where ETTh1.csv is")
args = parser.parse_args()

model = rnnc.compile(os.path.join(os.path.dirname(__file__), "../../models/etth1_lstm.rnn"))
data = rnnc.datasets.load("csv", model, data_dir=args.data_dir)   # windows of 24 rows, min-max scaled
(x_train, y_train), (x_val, y_val), (x_test, y_test) = data

model.fit(x_train, y_train, epochs=3 if args.quick else 60, batch_size=32,
          validation_data=(x_val, y_val), restore_best=True, checkpoint="etth1.safetensors")
print("test:", model.evaluate(x_test, y_test))

predicted = data.denormalize(model.predict(x_test[:5])[:, 0])
for p, t in zip(predicted, data.denormalize(y_test[:5])):
    print(f"predicted OT {p:6.2f}   actual {t:6.2f}")
