#!/usr/bin/python3
"""python_daemon_launcher PIDFILE PROGRAM [ARG...]: python-daemon's DaemonContext
with a PID file (PEP 3143), then exec PROGRAM."""
import os
import sys

import daemon
import daemon.pidfile

pidfile, argv = sys.argv[1], sys.argv[2:]
with daemon.DaemonContext(pidfile=daemon.pidfile.TimeoutPIDLockFile(pidfile)):
    os.execv(argv[0], argv)
