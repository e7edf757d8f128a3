"""Starts a long training run, interrupts it with SIGINT once it has made
progress, and checks that it stops with exit code 3 after writing a checkpoint.

The signal goes out only after rnnrun has said what data it loaded (its
handler is installed by then): lit's workers ignore SIGINT, and a child
inherits that until it installs its own, so an earlier signal would be lost
on a slow machine."""
import signal
import subprocess
import sys
import time

rnnrun, model, data_dir, checkpoint = sys.argv[1:5]
proc = subprocess.Popen([rnnrun, model, "--data-dir", data_dir, "--epochs", "100000", "--checkpoint", checkpoint],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
first = proc.stderr.readline()
time.sleep(1.0)
proc.send_signal(signal.SIGINT)
out, err = proc.communicate(timeout=60)
print("exit code", proc.returncode)
print((first + err).strip().splitlines()[-1])
