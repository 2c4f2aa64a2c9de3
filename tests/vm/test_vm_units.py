"""Pure logic of the VM tier: no root, no QEMU."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from netcheck.errors import EnvironmentProblem, UsageError
from netcheck.vm import batch, guest, kernel, runner
from netcheck.vm.cli import split_run_args


def _fake_bzimage(path: Path) -> Path:
    data = bytearray(4096)
    data[0x202:0x206] = b"HdrS"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("codes", "worst"),
    [([], 0), ([0, 0], 0), ([0, 1, 0], 1), ([1, 2, 0], 2), ([2, 3, 1], 3), ([0, 139], 3)],
)
def test_worst_exit_code_ranks_environment_over_usage_over_failure(
    codes: list[int], worst: int
) -> None:
    assert batch.worst_exit_code(codes) == worst


def test_report_stems_are_unique_and_safe() -> None:
    stems = batch.report_stems([Path("a/x.yaml"), Path("b/x.yaml"), Path("c/we ird.yaml")])
    assert stems == ["x", "x-2", "we_ird"]


@pytest.mark.parametrize("opt", ["--json", "--junit=x.xml", "--no-reports"])
def test_reserved_run_options_are_refused(opt: str) -> None:
    with pytest.raises(UsageError, match="--reports"):
        batch.check_run_args(["--timeout", "3", opt])


def test_manifest_round_trip(tmp_path: Path) -> None:
    manifest = batch.make_manifest([Path("/s/a.yaml")], tmp_path, ["--timeout", "3"])
    assert manifest.jobs[0].json == str(tmp_path / "a.json")
    assert manifest.jobs[0].junit == str(tmp_path / "a.junit.xml")
    batch.write_manifest(manifest, tmp_path / "m.json")
    assert batch.read_manifest(tmp_path / "m.json") == manifest


def test_split_run_args_after_double_dash() -> None:
    # argparse hands `a.yaml b.yaml -- --timeout 3` over as one list without the `--`.
    assert split_run_args(["a.yaml", "b.yaml", "--timeout", "3"]) == (
        ["a.yaml", "b.yaml"], ["--timeout", "3"],
    )
    assert split_run_args(["a.yaml"]) == (["a.yaml"], [])


def test_guest_runs_every_job_and_records_each_exit_code(tmp_path: Path) -> None:
    manifest = batch.make_manifest(
        [Path("/s/ok.yaml"), Path("/s/bad.yaml"), Path("/s/crash.yaml")], tmp_path, ["-x"]
    )
    seen: list[Sequence[str]] = []

    def fake_run(argv: Sequence[str]) -> int:
        seen.append(list(argv))
        if "crash" in argv[1]:
            raise RuntimeError("boom")
        return 1 if "bad" in argv[1] else 0

    results = guest.run_batch(manifest, fake_run, warm=False)
    assert [r.exit_code for r in results.results] == [0, 1, 3]
    assert results.finished
    assert results.results[2].error == "RuntimeError: boom"
    assert seen[0] == [
        "run", "/s/ok.yaml", "-x", "--json", str(tmp_path / "ok.json"),
        "--junit", str(tmp_path / "ok.junit.xml"),
    ]
    on_disk = batch.read_results(Path(manifest.results))
    assert on_disk == results


def test_lab_daemons_in_the_guest_get_more_time_to_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lab scenarios start their own dockerds; under TCG the host's 30 s ran out.
    for var in ("NETCHECK_DOCKERD_READY_S", "NETCHECK_DATA_DIR", "NETCHECK_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(guest, "prepare_image_cache", lambda cache: None)
    scenario = tmp_path / "lab.yaml"
    scenario.write_text("runtime: docker\nlab: {hosts: {h1: {}}}\n", encoding="utf-8")
    manifest = batch.make_manifest([scenario], tmp_path, [])
    seen: list[str | None] = []

    def fake_run(argv: Sequence[str]) -> int:
        seen.append(os.environ.get("NETCHECK_DOCKERD_READY_S"))
        return 0

    guest.run_batch(manifest, fake_run, warm=False)
    assert seen == [str(guest.LAB_DOCKERD_READY_S)]
    assert float(seen[0] or 0) > 30


def test_guest_maps_argparse_exit_to_usage(tmp_path: Path) -> None:
    manifest = batch.make_manifest([Path("/s/a.yaml")], tmp_path, [])

    def bad_option(argv: Sequence[str]) -> int:
        raise SystemExit(2)

    assert guest.run_batch(manifest, bad_option, warm=False).results[0].exit_code == 2


def test_read_results_of_a_guest_that_never_ran(tmp_path: Path) -> None:
    assert batch.read_results(tmp_path / "missing.json") is None
    (tmp_path / "half.json").write_text("{", encoding="utf-8")
    assert batch.read_results(tmp_path / "half.json") is None


def test_find_kernel_explicit_missing_file_is_environment_problem() -> None:
    with pytest.raises(EnvironmentProblem, match="no such file") as info:
        kernel.find_kernel("/nonexistent/vmlinuz")
    assert info.value.exit_code == 3


def test_find_kernel_refuses_a_file_that_is_not_a_kernel(tmp_path: Path) -> None:
    junk = tmp_path / "vmlinuz-1.0"
    junk.write_bytes(b"not a kernel" * 100)
    with pytest.raises(EnvironmentProblem, match="not a bootable"):
        kernel.find_kernel(str(junk))


def test_find_kernel_in_a_dpkg_x_tree_with_modules(tmp_path: Path) -> None:
    _fake_bzimage(tmp_path / "boot/vmlinuz-6.1.0-9-amd64")
    _fake_bzimage(tmp_path / "boot/vmlinuz-6.1.0-10-amd64")
    (tmp_path / "lib/modules/6.1.0-10-amd64").mkdir(parents=True)
    found = kernel.find_kernel(str(tmp_path))
    assert found.path.name == "vmlinuz-6.1.0-10-amd64"  # newest by version, not by text
    assert found.release == "6.1.0-10-amd64"
    assert found.modules == tmp_path / "lib/modules/6.1.0-10-amd64"


def test_search_skips_a_kernel_without_9p(tmp_path: Path) -> None:
    boot, cache = tmp_path / "boot", tmp_path / "cache"
    _fake_bzimage(boot / "vmlinuz-6.1.0-9-cloud-amd64")
    (boot / "config-6.1.0-9-cloud-amd64").write_text("# CONFIG_NET_9P is not set\n")
    _fake_bzimage(cache / "boot/vmlinuz-6.1.0-9-amd64")
    assert kernel.find_kernel(search=[boot, cache]).path.parent == cache / "boot"


def test_search_finds_nothing_and_says_how_to_get_a_kernel(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match=r"install-vm\.sh"):
        kernel.find_kernel(search=[tmp_path])


def test_vng_command_shares_reports_and_disables_kvm_for_tcg(tmp_path: Path) -> None:
    image = kernel.KernelImage(path=Path("/k/vmlinuz-1"), release="1", modules=None)
    opts = runner.VmOptions(scenarios=(Path("/s/a.yaml"),), reports=tmp_path)
    cmd = runner.vng_command("vng", image, "tcg", opts, ["python", "-m", "x", "m.json"])
    assert cmd[:4] == ["vng", "--run", "/k/vmlinuz-1", "--force-9p"]
    assert "--disable-kvm" in cmd
    assert cmd[cmd.index("--rwdir") + 1] == str(tmp_path)
    assert cmd[cmd.index("--exec") + 1] == "python -m x m.json"
    appended = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--append"]
    assert any(a.startswith("module_blacklist=kvm,") for a in appended)
    assert "--disable-kvm" not in runner.vng_command("vng", image, "kvm", opts, ["true"])


def test_explain_tells_panic_hang_and_partial_batches_apart() -> None:
    done = batch.BatchResults(kernel="k", uptime_at_start_s=1.0, results=(), finished=False)
    panic = runner._explain(None, 2, False, ["x", "Kernel panic - not syncing: VFS"], 60)
    assert "panicked" in panic
    assert "did not reach userspace" in runner._explain(None, 2, True, [], 5)
    assert "after 0 of 2" in runner._explain(done, 2, True, [], 60)


def test_kernel_console_keeps_what_explains_a_hang(tmp_path: Path) -> None:
    image = kernel.KernelImage(path=Path("/k/vmlinuz-1"), release="1", modules=None)
    opts = runner.VmOptions(scenarios=(Path("/s/a.yaml"),), reports=tmp_path)
    cmd = runner.vng_command("vng", image, "tcg", opts, ["true"])
    appended = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--append"]
    # A soft lockup's call trace is printed at the default level (4): loglevel must pass it.
    level = next(int(a.split("=")[1]) for a in appended if a.startswith("loglevel="))
    assert level > 4
    assert "softlockup_all_cpu_backtrace=1" in appended
    # And drop-reason tracing does not patch the scheduler at each event toggle.
    assert "trace_options=norecord-cmd" in appended


def _pump(tmp_path: Path, lines: Sequence[str]) -> runner._Pump:
    stream = io.BytesIO("".join(f"{line}\r\n" for line in lines).encode())
    pump = runner._Pump(stream, tmp_path / "console.log", None)
    pump.run()
    return pump


def test_console_pump_tells_a_passing_lockup_from_a_hung_cpu(tmp_path: Path) -> None:
    passing = _pump(tmp_path, [
        "[  116.52] watchdog: BUG: soft lockup - CPU#1 stuck for 45s! [runc:2103]",
        "building lab…",
    ])
    assert passing.lockup is None and not passing.stuck.is_set()
    assert (tmp_path / "console.log").read_text().splitlines()[1] == "building lab…"
    hung = _pump(tmp_path, [
        "[  116.52] watchdog: BUG: soft lockup - CPU#1 stuck for 45s! [python:141]",
        f"[  330.51] watchdog: BUG: soft lockup - CPU#1 stuck for {runner.LOCKUP_KILL_S}s! "
        "[python:141]",
        "[  360.51] watchdog: BUG: soft lockup - CPU#0 stuck for 999s! [runc:7]",
    ])
    assert hung.stuck.is_set()
    assert hung.lockup == f"CPU#1 stuck for {runner.LOCKUP_KILL_S} s in python:141"


def test_wait_stops_waiting_for_a_hung_guest(tmp_path: Path) -> None:
    pump = _pump(tmp_path, [])
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pump.stuck.set()
        assert runner._wait(proc, pump, time.monotonic() + 60) is None
        assert proc.poll() is None  # the caller kills it
    finally:
        proc.kill()
        proc.wait()
    done = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert runner._wait(done, _pump(tmp_path, []), time.monotonic() + 60) == 3
    late = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert runner._wait(late, _pump(tmp_path, []), time.monotonic() - 1) is None
    finally:
        late.kill()
        late.wait()


def test_explain_names_a_kernel_hang() -> None:
    done = batch.BatchResults(kernel="k", uptime_at_start_s=1.0, results=(), finished=False)
    message = runner._explain(done, 7, False, [], 900, "CPU#1 stuck for 240 s in python:141")
    assert "soft lockup: CPU#1 stuck for 240 s in python:141" in message
    assert "after 0 of 7" in message


def test_guest_prints_its_python_stacks_when_a_step_stalls() -> None:
    code = (
        "import time\nfrom netcheck.vm import guest\n"
        "def stuck_here():\n    time.sleep(1.5)\n"
        "guest.watch_stall(0.3)\nstuck_here()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0
    assert "most recent call first" in done.stderr
    assert "stuck_here" in done.stderr


def test_run_in_vm_rejects_bad_input_before_booting(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such scenario"):
        runner.run_in_vm(runner.VmOptions(scenarios=(tmp_path / "nope.yaml",), reports=tmp_path))
    with pytest.raises(UsageError, match="more than 0"):
        runner.run_in_vm(
            runner.VmOptions(scenarios=(tmp_path,), reports=tmp_path, timeout_s=0)
        )


def test_results_file_is_plain_json(tmp_path: Path) -> None:
    res = batch.BatchResults(kernel="k", uptime_at_start_s=2.5, results=(), finished=True)
    batch.write_results(res, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["finished"] is True


def test_warm_up_forks_one_probe_worker() -> None:
    assert guest.warm_probe_workers() is not None


def test_guest_module_warms_up_when_run_as_main(tmp_path: Path) -> None:
    # As in the VM: `python -m netcheck.vm.guest`, where this module is __main__.
    import subprocess
    import sys

    batch.write_manifest(batch.make_manifest([], tmp_path, []), tmp_path / "m.json")
    proc = subprocess.run(
        [sys.executable, "-m", "netcheck.vm.guest", str(tmp_path / "m.json")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = batch.read_results(tmp_path / batch.RESULTS_NAME)
    assert results is not None and results.finished
    assert results.warmup_s > 0


def test_guest_command_binds_the_cached_view_then_runs_python_anyway() -> None:
    cmd = runner.guest_command(Path("/r/m.json"), ["/py", "/work/p/.venv"])
    assert cmd[:2] == ["/bin/sh", "-c"]
    script = cmd[2]
    assert f"cache=loose,msize=524288 {runner.CACHED_TAG} {runner.CACHED_MOUNT}" in script
    assert "for d in /py /work/p/.venv; do mount --bind" in script
    # `;` not `&&` before exec: a failed mount only makes the guest slower.
    assert script.endswith("}; exec " + " ".join(runner.guest_command(Path("/r/m.json"))))
    assert runner.guest_command(Path("/r/m.json"))[-2:] == ["netcheck.vm.guest", "/r/m.json"]


def test_cached_dirs_never_hide_the_reports_share(tmp_path: Path) -> None:
    import sys

    import netcheck

    package = Path(netcheck.__file__).resolve().parent
    dirs = runner.cached_dirs(tmp_path)
    assert str(Path(sys.prefix).resolve()) in dirs or any(
        Path(sys.prefix).resolve().is_relative_to(d) for d in dirs)
    assert any(package.is_relative_to(d) for d in dirs)
    assert "/" not in dirs
    # No folder twice, none inside another.
    assert not [a for a in dirs for b in dirs if a != b and Path(a).is_relative_to(b)]
    inside = package / "reports-here"
    assert not any(inside.is_relative_to(d) for d in runner.cached_dirs(inside))


def test_vng_command_adds_the_cached_root_device(tmp_path: Path) -> None:
    image = kernel.KernelImage(path=Path("/k/vmlinuz-1"), release="1", modules=None)
    opts = runner.VmOptions(scenarios=(Path("/s/a.yaml"),), reports=tmp_path)
    cmd = runner.vng_command("vng", image, "tcg", opts, ["true"])
    (qemu,) = [a for a in cmd if a.startswith("--qemu-opts=")]
    assert "readonly=on" in qemu
    assert f"mount_tag={runner.CACHED_TAG}" in qemu


def test_preimport_names_are_real_modules() -> None:
    import importlib.util

    missing = [n for n in guest.PREIMPORT if importlib.util.find_spec(n) is None]
    assert missing == []
    assert guest.preimport(("json", "netcheck.vm.batch")) >= 0


def test_manifest_and_results_keep_profile_and_timeline(tmp_path: Path) -> None:
    manifest = batch.make_manifest([Path("/s/a.yaml")], tmp_path, [], profile=True)
    assert manifest.profile == str(tmp_path / batch.PROFILE_NAME)
    batch.write_manifest(manifest, tmp_path / "m.json")
    assert batch.read_manifest(tmp_path / "m.json") == manifest
    res = batch.BatchResults(
        kernel="k", uptime_at_start_s=20.0, uptime_at_exec_s=12.5, uptime_at_end_s=99.0,
        warmup_s=30.0, preimport_s=25.0, finished=True,
        results=(batch.ScenarioResult(scenario="/s/a.yaml", exit_code=0, duration_s=40.0,
                                      json=str(tmp_path / "a.json"), junit="", started_s=51.0),),
    )
    batch.write_results(res, tmp_path / "r.json")
    assert batch.read_results(tmp_path / "r.json") == res


def test_timing_lines_name_every_phase(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(
        {"phase_s": {"build": 2.0, "listen": 0.0, "probe": 5.0, "diagnose": 9.5}}))
    job = batch.ScenarioResult(scenario="/s/a.yaml", exit_code=0, duration_s=20.0,
                               json=str(tmp_path / "a.json"), junit="", started_s=51.0)
    assert batch.scenario_timing(job) == "build 2.0, probe 5.0, diagnose 9.5, other 3.5"
    res = batch.BatchResults(kernel="k", uptime_at_start_s=20.0, uptime_at_exec_s=12.5,
                             uptime_at_end_s=80.0, warmup_s=30.0, preimport_s=25.0,
                             results=(job,), finished=True)
    line = batch.batch_timing(res, 95.0, kernel_at_s=8.0)
    for part in ("until the kernel's first line 8.0 s", "boot 12.5 s", "guest start 7.5 s",
                 "warm-up 30.0 s (imports 25.0 s of it)", "scenarios 20.0 s",
                 "power-off 7.0 s", "95.0 s in all"):
        assert part in line, line


def test_stack_sampler_counts_the_main_threads_stack(tmp_path: Path) -> None:
    import time as _time

    from netcheck.vm.sampler import StackSampler

    def busy_here() -> None:
        end = _time.monotonic() + 0.3
        while _time.monotonic() < end:
            pass

    sampler = StackSampler(interval=0.01).start()
    busy_here()
    counts = sampler.stop()
    assert any(s.startswith("MainThread;") and "busy_here" in s for s in counts), counts
    sampler.write(tmp_path / "p.txt")
    lines = (tmp_path / "p.txt").read_text().splitlines()
    assert lines[0].startswith("# interval_s=0.01 samples=")
    assert all(line.rsplit(" ", 1)[1].isdigit() for line in lines[1:])
