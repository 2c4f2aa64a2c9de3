"""New kernel log lines (martian sources...) since a point in time, read-only from /dev/kmsg.

The reader seeks to the end when opened and later reads only what came after; it never
clears or otherwise changes the kernel log (no `dmesg -c`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os

log = logging.getLogger(__name__)
MAX_LINES = 2000


class KernelLog:
    def __init__(self, path: str = "/dev/kmsg") -> None:
        self.path = path
        self.problem: str | None = None
        self._fd: int | None = None

    def start(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.lseek(fd, 0, os.SEEK_END)
            self._fd = fd
        except OSError as exc:
            self.problem = f"{self.path}: {exc.strerror}"
            log.info("kernel log not read: %s", self.problem)

    def read_new(self) -> list[str]:
        """Messages logged since start(); closes the reader."""
        fd, self._fd = self._fd, None
        if fd is None:
            return []
        lines: list[str] = []
        try:
            while len(lines) < MAX_LINES:
                try:
                    record = os.read(fd, 8192)
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno == errno.EPIPE:  # overwritten while we read: go on
                        continue
                    raise
                if not record:
                    break
                text = record.decode("utf-8", "replace")
                _, _, message = text.partition(";")
                lines.append(message.split("\n", 1)[0])
        except OSError as exc:
            self.problem = f"{self.path}: {exc.strerror}"
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
        return lines

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
