"""rank_status.py DIR COMMAND...: runs COMMAND as one rank of mpirun and
records, in DIR/rank-R (R: the rank), its exit status and the CPU and wall
seconds it took: "exit 3 cpu 0.41 wall 9.87".

mpirun ends a job it stopped on Ctrl-C with a status of its own (1), so the
ranks' statuses are seen only here. mpirun signals each rank's process group:
COMMAND gets the signals; this wrapper ignores SIGTERM to outlive it (a
handler, not SIG_IGN, so COMMAND's disposition is the default)."""
import os
import signal
import subprocess
import sys
import time

out, cmd = sys.argv[1], sys.argv[2:]
signal.signal(signal.SIGTERM, lambda *_: None)
start = time.monotonic()
child = subprocess.Popen(cmd)
_, status, usage = os.wait4(child.pid, 0)
code = os.waitstatus_to_exitcode(status)
rank = os.environ.get("OMPI_COMM_WORLD_RANK", "0")
path = os.path.join(out, "rank-" + rank)
with open(path + ".tmp", "w") as f:
    f.write("exit %d cpu %.3f wall %.3f\n" % (code, usage.ru_utime + usage.ru_stime, time.monotonic() - start))
os.replace(path + ".tmp", path)
sys.exit(code if code >= 0 else 128 - code)
