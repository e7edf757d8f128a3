"""Interrupts a run whose epochs are mostly validation (1% of the windows
train, 98% validate), so the SIGINT almost always arrives while an epoch that
has finished its steps is being validated, and checks that the run's record
agrees with where it stopped: the JSON report lists exactly the epochs before
the one the interrupt names (step 0 of it when the signal came during a
validation), and the checkpoint resumes from there. A run that counted the
epoch as done but left it out of its history (or the other way round) fails."""
import json
import re
import signal
import subprocess
import sys
import time

rnnrun, model, data_dir, checkpoint, report = sys.argv[1:6]
proc = subprocess.Popen([rnnrun, model, "--data-dir", data_dir, "--epochs", "100000", "--checkpoint", checkpoint,
                         "--json", report], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
first = proc.stderr.readline()  # the data set is loaded: the handler is installed
time.sleep(1.0)
proc.send_signal(signal.SIGINT)
out, err = proc.communicate(timeout=60)
print("exit code", proc.returncode)
line = (first + err).strip().splitlines()[-1]
where = re.search(r"interrupted at epoch (\d+), step (\d+)", line)
if not where:
    sys.exit("no interrupt line: " + line)
epoch, step = int(where[1]), int(where[2])
recorded = len(json.load(open(report))["epochs"])
print("recorded epochs match the interrupt" if recorded == epoch - 1 else
      f"recorded {recorded} epochs, interrupted at epoch {epoch}, step {step}")
