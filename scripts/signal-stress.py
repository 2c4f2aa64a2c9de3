"""Stress: SIGINT/SIGTERM at uniform random points of a whole `netcheck run`, reports on.

Each run must exit 130/143 (or its normal code when the signal came after the end) within
30 s, leave no leftovers (tests/reliability/inventory.py) and no partial report file.
The bugs it found have deterministic regression tests; this is for hunting new ones.

usage: sudo .venv/bin/python scripts/signal-stress.py SEED N [scenario ...]
env: DOUBLE=1 a second SIGINT 50 ms later; TERM_ONLY=1; RUNTIME=docker (lab mode)
"""
import json, os, random, signal, subprocess, sys, time, tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
from tests.reliability import inventory  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
if len(sys.argv) < 3:
    sys.exit(__doc__)
SEED = int(sys.argv[1]); N = int(sys.argv[2])
SCEN = sys.argv[3:] or ["scenarios/quickstart.yaml"]
DOUBLE = os.environ.get("DOUBLE") == "1"
RUNTIME = os.environ.get("RUNTIME", "netns")
rng = random.Random(SEED)
# A background job of a non-interactive shell ignores SIGINT, and children inherit that.
signal.signal(signal.SIGINT, signal.SIG_DFL)


def launch(scen, d):
    return subprocess.Popen(
        [PY, "-m", "netcheck", "run", scen, "--runtime", RUNTIME, "--timeout", "1",
         "--json", f"{d}/r.json", "--junit", f"{d}/r.junit.xml", "--html", f"{d}/r.html"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def check_reports(d):
    probs = []
    for f in Path(d).iterdir():
        if f.name not in ("r.json", "r.junit.xml", "r.html"):
            probs.append(f"stray file {f.name}")
            continue
        t = f.read_text()
        try:
            if f.suffix == ".json":
                json.loads(t)
            elif f.name.endswith(".xml"):
                ET.fromstring(t)
            elif not t.rstrip().endswith("</html>"):
                probs.append("html truncated")
        except Exception as e:
            probs.append(f"{f.name} invalid: {e}")
    return probs


cal = {}
for s in SCEN:
    d = tempfile.mkdtemp(prefix="ncs-")
    t0 = time.monotonic(); p = launch(s, d); p.communicate(timeout=120)
    cal[s] = (time.monotonic() - t0, p.returncode)
    print("calibrate", s, cal[s], flush=True)

bad = 0
stats = {}
for i in range(N):
    s = SCEN[i % len(SCEN)]
    total, normal = cal[s]
    delay = rng.uniform(0, total * 1.1)
    signum = rng.choice([signal.SIGINT, signal.SIGTERM]) if not os.environ.get("TERM_ONLY") else signal.SIGTERM
    group = rng.random() < 0.5
    if DOUBLE:
        signum = signal.SIGINT
    d = tempfile.mkdtemp(prefix="ncs-")
    before = inventory.take(docker=False)
    p = launch(s, d)
    time.sleep(delay)
    sent = p.poll() is None
    if sent:
        (os.killpg if group else os.kill)(p.pid, signum)
        if DOUBLE:
            time.sleep(0.05)
            if p.poll() is None:
                (os.killpg if group else os.kill)(p.pid, signum)
    t_sig = time.monotonic()
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); out, err = p.communicate()
        err += "\nHANG"
    rc = p.returncode
    probs = []
    if "HANG" in err:
        probs.append("hang")
    # -SIGNUM: the signal came before Python installed its handlers or after it restored
    # the defaults at exit; nothing is built then, so only leftovers would make it a bug.
    ok_codes = {130, 143, normal, -signum}
    if rc not in ok_codes:
        probs.append(f"exit {rc}")
    for w in ("Fatal", "Exception ignored", "Traceback"):
        if w in err:
            probs.append(f"stderr has {w!r}")
    probs += check_reports(d)
    left = inventory.settled_leaks(before, docker=False, within=5)
    if left:
        probs.append("leftovers: " + ", ".join(map(str, left)))
    key = rc
    stats[key] = stats.get(key, 0) + 1
    desc = (f"#{i} {Path(s).name} {signal.Signals(signum).name}{' group' if group else ''}"
            f"{' double' if DOUBLE else ''} at {delay:.3f}s/{total:.2f}s sent={sent} rc={rc}")
    if probs:
        bad += 1
        print("BAD", desc, probs, flush=True)
        print("   stderr tail:", err[-1500:].replace("\n", "\n   "), flush=True)
        if left:  # clean up so later cases are independent
            subprocess.run([PY, "-m", "netcheck", "clean"], capture_output=True)
    else:
        print("ok ", desc, flush=True)
print("SUMMARY seed", SEED, "runs", N, "bad", bad, "codes", stats, flush=True)
