"""Writing a text file so a reader (or a crash) never sees half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from netcheck.sigmask import signals_blocked


def write_text_atomic(path: Path, text: str) -> None:
    """Write so a reader (or a crash) never sees half a file; mode 0644; make parents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A signal between mkstemp() and the `try` (or inside the cleanup) would leave the
    # temporary file behind: it waits for the end of this short write instead.
    with signals_blocked():
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
