"""A stand-in for scapy's long import in the forkserver's preload (tests only)."""

import os
import time
from pathlib import Path

Path(os.environ["NETCHECK_TEST_PRELOAD_MARK"]).write_text(str(os.getpid()))
time.sleep(1.5)
