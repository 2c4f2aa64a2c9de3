"""`netcheck clean`: remove what killed runs left behind, and nothing else.

Only namespaces named exactly `nc-<runid>-<node>` are candidates, and only when their run is
dead: no state file, or the state file's process is gone (or the pid now belongs to another
process). A live run and anything without the prefix are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from netcheck.runtime import state
from netcheck.runtime.naming import NETNS_DIR, parse_netns_name
from netcheck.runtime.netns import nsfs

log = logging.getLogger(__name__)


def dead_runs(
    *, netns_dir: str = NETNS_DIR, state_dir: str = state.STATE_DIR
) -> dict[str, list[str]]:
    """Run id -> its namespace names, for every run that is not alive."""
    by_run: dict[str, list[str]] = {}
    for name in nsfs.list_dir(netns_dir):
        parsed = parse_netns_name(name)
        if parsed is not None:
            by_run.setdefault(parsed[0], []).append(name)
    for run_id in state.run_ids(state_dir):
        by_run.setdefault(run_id, [])
    out: dict[str, list[str]] = {}
    for run_id, names in sorted(by_run.items()):
        st = state.read(run_id, state_dir)
        if st is not None and state.is_alive(st):
            continue
        out[run_id] = sorted(names)
    return out


def clean(
    dry_run: bool = False,
    *,
    netns_dir: str = NETNS_DIR,
    state_dir: str = state.STATE_DIR,
    runs: Collection[str] | None = None,
) -> list[str]:
    """Remove dead runs' namespaces and state files; return what was (or would be) removed.

    Entries are namespace names and state file paths. `runs` limits the sweep to those run
    ids (tests use it so as not to sweep other people's leftovers).
    """
    removed: list[str] = []
    for run_id, names in dead_runs(netns_dir=netns_dir, state_dir=state_dir).items():
        if runs is not None and run_id not in runs:
            continue
        for name in names:
            if dry_run or nsfs.remove(f"{netns_dir}/{name}"):
                removed.append(name)
                log.info("%s namespace %s", "would remove" if dry_run else "removed", name)
        path = state.state_path(run_id, state_dir)
        if path.exists() and (dry_run or state.remove(run_id, state_dir)):
            removed.append(str(path))
    return removed
