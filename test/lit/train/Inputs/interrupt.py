"""Starts a long training run, interrupts it with SIGINT once it has made
progress, and checks that it stops with exit code 3 after writing a checkpoint."""
import signal
import subprocess
import sys
import time

rnnrun, model, data_dir, checkpoint = sys.argv[1:5]
proc = subprocess.Popen([rnnrun, model, "--data-dir", data_dir, "--epochs", "100000", "--checkpoint", checkpoint],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(2.0)
proc.send_signal(signal.SIGINT)
out, err = proc.communicate(timeout=60)
print("exit code", proc.returncode)
print(err.strip().splitlines()[-1])
