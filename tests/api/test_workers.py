"""`skipify serve --workers 2` for real: two processes behind one port. A session's plays posted to one
worker are read by the other (the event log is what they share), a worker killed is replaced by one
that knows them, and a new version is swapped in by one worker at a time without a failed request."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from skipify.config import load_config
from tests.scored import NIGHT, SCORED_SETTINGS, tiny_deep_config, tiny_lgbm_config
from tests.servers import free_port, running

pytestmark = pytest.mark.slow  # two uvicorn workers (`make test-fast` leaves it out)

BIN = Path(sys.executable).parent
PAIR = {"items": [{"user_id": "u000002", "track_id": "t000005"}]}


@pytest.fixture(scope="module")
def cluster(copy_scored_home):
    home = copy_scored_home("workers_home")
    port = free_port()
    env = {**os.environ, "SKIPIFY_HOME": str(home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    cmd = [str(BIN / "skipify"), "serve", "--port", str(port), "--reload-s", "1", "--workers", "2"]
    with running(cmd, env, f"http://127.0.0.1:{port}/healthz", timeout_s=180) as proc:
        yield home, port, proc


def workers(port: int, n: int = 2, timeout_s: float = 120) -> dict[int, httpx.Client]:
    """A client (one kept-alive connection) to each of ``n`` workers, found by opening connections
    until ``n`` different workers have answered /healthz."""
    found: dict[int, httpx.Client] = {}
    deadline = time.time() + timeout_s
    while len(found) < n:
        assert time.time() < deadline, f"only workers {sorted(found)} answered"
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        try:
            pid = client.get("/healthz").json()["worker"]
        except httpx.TransportError:
            pid = None
        if pid is None or pid in found:
            client.close()
            time.sleep(0.05)
        else:
            found[pid] = client
    return found


def session(user: str, name: str, hour: int) -> list[dict]:
    return [{"user_id": user, "track_id": f"t{7 + i:06d}", "ts": f"{NIGHT}T{hour}:{10 * i:02d}:00Z", "ms_played": 3_000,
             "skipped": True, "session_id": name, "platform": "ios"} for i in range(3)]


def asked(client: httpx.Client, user: str, name: str, hour: int) -> list[str] | None:
    """The live plays a prediction in session ``name`` read, by track."""
    resp = client.post("/v1/predict", json={"items": [{"user_id": user, "track_id": "t000001",
                                                        "context": {"ts": f"{NIGHT}T{hour}:45:00Z", "session_id": name}}]})
    assert resp.status_code == 200, resp.text
    live = resp.json()["predictions"][0]["session"]
    return [e["track_id"] for e in live["live_events"]] if live else None


def test_both_workers_map_the_same_snapshot_files(cluster):
    """One snapshot per machine (skipify.snapshots): the workers map the night's folder read-only, the same files,
    instead of each holding its own copy."""
    home, port, _ = cluster
    found = workers(port)
    served = {pid: c.get("/healthz").json() for pid, c in found.items()}
    for c in found.values():
        c.close()
    folders = {Path(home) / "snapshots" / f"{h['features_as_of']}.{h['model_version']}" for h in served.values()}
    assert len(folders) == 1 and (next(iter(folders)) / "meta.json").exists()
    folder = str(next(iter(folders)))
    mapped = {pid: {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
                    if line.split()[-1].startswith(folder)} for pid in served}
    files = {str(p) for p in Path(folder).iterdir() if p.suffix in (".arrow", ".npy")}
    for pid, names in mapped.items():
        assert names and names <= files, (pid, sorted(names))
        # beside the snapshot, the tracks' content vectors and the nights' at-risk lists, kept once too
        assert {f"{folder}/extra.content.npy"} <= names and any(n.startswith(f"{folder}/extra.at-risk-") for n in names)
        assert all(" r--s " in line or " r--p " in line for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
                   if line.split()[-1].startswith(folder)), "a snapshot file mapped writable"
    assert mapped[min(mapped)] & mapped[max(mapped)]  # the same files


def test_the_workers_are_forked_from_the_supervisor_once_it_has_imported_what_they_need(cluster):
    """skipify.api._fork_workers: each worker is the supervisor forked (no interpreter started anew: the same
    command line, the supervisor its parent), after the supervisor imported PyTorch and LightGBM, whose pages they
    share; a worker's model weights are the version's files mapped."""
    import psutil

    home, port, proc = cluster
    found = workers(port)
    for c in found.values():
        c.close()
    supervisor = psutil.Process(proc.pid)
    maps = Path(f"/proc/{proc.pid}/maps").read_text()
    assert "libtorch_cpu" in maps and "lib_lightgbm" in maps
    for pid in found:
        worker = psutil.Process(pid)
        assert worker.ppid() == proc.pid and worker.cmdline() == supervisor.cmdline()
        assert "/deep_towers.pt" in Path(f"/proc/{pid}/maps").read_text()


def test_a_session_posted_to_one_worker_is_read_by_the_other_and_by_a_replacement(cluster):
    _, port, proc = cluster
    (a, first), (b, second) = workers(port).items()
    try:
        one, two = session("u000003", "w-one", 20), session("u000004", "w-two", 21)
        assert asked(second, "u000003", "w-one", 20) is None
        assert first.post("/v1/events", json={"events": one}).status_code == 202
        assert second.post("/v1/events", json={"events": two}).status_code == 202
        # each worker reads the other's plays before it answers
        assert asked(second, "u000003", "w-one", 20) == [e["track_id"] for e in one]
        assert asked(first, "u000004", "w-two", 21) == [e["track_id"] for e in two]
        assert first.get("/healthz").json()["live_plays"] == second.get("/healthz").json()["live_plays"] == 6
    finally:
        first.close()
        second.close()

    os.kill(a, signal.SIGKILL)  # the supervisor starts another worker; the port keeps answering meanwhile
    found = workers(port, timeout_s=120)
    while a in found or len(found) < 2:  # until the replacement answers
        for c in found.values():
            c.close()
        found = workers(port, timeout_s=120)
    try:
        assert b in found and proc.poll() is None
        new = next(c for pid, c in found.items() if pid != b)
        # it read the event log at start: both sessions, though neither was posted to it
        assert asked(new, "u000003", "w-one", 20) == [e["track_id"] for e in one]
        assert asked(new, "u000004", "w-two", 21) == [e["track_id"] for e in two]
    finally:
        for c in found.values():
            c.close()


def test_a_prediction_in_a_live_session_reads_its_plays_and_names_them(cluster):
    """The session by its id, the listener's open session by the gap, none after the gap; the plays
    posted to one worker, the predictions asked of the other."""
    _, port, _ = cluster
    plays = [{"user_id": "u000005", "track_id": f"t{i:06d}", "ts": f"{NIGHT}T20:{10 * i:02d}:00Z", "ms_played": 3_000,
              "skipped": True, "session_id": "live-http", "platform": "android", "shuffle": True, "context_type": "playlist",
              "reason_start": "trackdone"} for i in range(4)]
    (_, post), (_, api) = workers(port).items()
    try:
        def ask(**context) -> dict:
            resp = api.post("/v1/predict", json={"items": [{"user_id": "u000005", "track_id": "t000009", "context": context}]})
            assert resp.status_code == 200, resp.text
            return resp.json()["predictions"][0]

        before = ask(ts=f"{NIGHT}T20:45:00Z", session_id="live-http")
        assert before["session"] is None  # nothing received yet: the history up to the cut-off only
        assert post.post("/v1/events", json={"events": plays}).status_code == 202
        named = ask(ts=f"{NIGHT}T20:45:00Z", session_id="live-http")
        assert [e["track_id"] for e in named["session"]["live_events"]] == [e["track_id"] for e in plays]
        assert named["p_dislike"] != before["p_dislike"]  # four early skips in a row change the odds
        opened = ask(ts=f"{NIGHT}T20:45:00Z")  # no session given: the listener's open one (last play 15 min before)
        assert opened["session"]["session_id"] == "live-http" and opened["p_dislike"] == named["p_dislike"]
        assert ask(ts=f"{NIGHT}T22:00:00Z")["session"] is None  # 90 minutes after the last play: a new session
        partial = ask(ts=f"{NIGHT}T20:25:00Z", session_id="live-http")  # only the plays before its ts
        assert len(partial["session"]["live_events"]) == 3
    finally:
        post.close()
        api.close()


def test_a_new_version_is_loaded_by_one_worker_at_a_time_and_no_request_fails(cluster):
    from skipify.train import train

    home, port, _ = cluster
    before = httpx.get(f"http://127.0.0.1:{port}/v1/model").json()["version"]
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:  # a new connection per request: both workers get requests all along
        while not stop.is_set():
            statuses.append(httpx.post(f"http://127.0.0.1:{port}/v1/predict", json=PAIR, timeout=30).status_code)

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        time.sleep(1)  # a version registered within the same second would share the old one's name
        new = train(NIGHT, cfg=load_config(home=home, **SCORED_SETTINGS), device="cpu", configs={"lightgbm": tiny_lgbm_config(),
                    "deep": tiny_deep_config()})["version"]
        assert new != before
        deadline = time.time() + 120
        while True:
            found = workers(port)
            health = {pid: c.get("/healthz").json() for pid, c in found.items()}
            for c in found.values():
                c.close()
            if all(h["model_version"] == new for h in health.values()):
                break
            assert time.time() < deadline, f"not every worker picked up {new}: {health}"
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    assert len(statuses) > 5 and set(statuses) == {200}
    # one loader at a time: the two loads' intervals do not overlap
    spans = sorted((dt.datetime.fromisoformat(h["loaded_at"]).timestamp() - h["load_s"], dt.datetime.fromisoformat(h["loaded_at"]).timestamp())
                   for h in health.values())
    assert spans[0][1] <= spans[1][0] + 0.05, spans


def test_a_promoted_champion_is_served_over_a_newer_version_by_every_worker(cluster):
    """Runs after the new-version test (two versions now): promoting the older one, as the gate does
    (demote the champion, mark the winner), makes every worker swap back to it."""
    from skipify.warehouse import connect, transaction

    home, port, _ = cluster
    found = workers(port)
    before = {pid: c.get("/healthz").json()["reloads"] for pid, c in found.items()}
    for c in found.values():
        c.close()
    cfg = load_config(home=home)
    con = connect(cfg)
    try:
        versions = [v for (v,) in con.execute("SELECT version FROM models.registry ORDER BY created_at").fetchall()]
        assert len(versions) == 2
        with transaction(con):
            con.execute("UPDATE models.registry SET status = 'challenger' WHERE status = 'champion'")
            con.execute("UPDATE models.registry SET status = 'champion' WHERE version = $v", {"v": versions[0]})
    finally:
        con.close()
    deadline = time.time() + 60
    while True:
        found = workers(port)
        models = {pid: c.get("/v1/model").json() for pid, c in found.items()}
        health = {pid: c.get("/healthz").json() for pid, c in found.items()}
        for c in found.values():
            c.close()
        if all(m["version"] == versions[0] for m in models.values()):
            break
        assert time.time() < deadline, f"the promoted champion was never served by every worker: {models}"
        time.sleep(0.5)
    assert all(m["status"] == "champion" for m in models.values())
    # a swap, not a restart: every worker that served before the promotion reloaded once more. (A worker
    # the supervisor replaced meanwhile, as it does one that misses its health checks on a busy machine,
    # starts with the champion; at least one must have swapped.)
    swapped = {pid: health[pid]["reloads"] - before[pid] for pid in health if pid in before}
    assert swapped and all(n == 1 for n in swapped.values()), (before, health)


def test_a_worker_that_cannot_load_exits_with_the_code_that_stops_the_supervisor(cluster):
    """No restart loop: a worker that cannot load (features as of a day not built yet) exits with uvicorn's
    start-up failure code, on which the supervisor stops and `skipify serve` exits 2 (skipify.api.serve)."""
    from uvicorn.config import STARTUP_FAILURE

    from skipify.api import _worker_app

    home, _, _ = cluster
    with pytest.raises(SystemExit) as stopped:
        _worker_app(load_config(home=home, **SCORED_SETTINGS), dt.date(2099, 1, 1), 0)
    assert stopped.value.code == STARTUP_FAILURE


def test_workers_stop_when_their_supervisor_is_killed(cluster):
    """Runs last: SIGKILL to the supervisor leaves no worker holding the port."""
    import psutil

    _, port, proc = cluster
    children = psutil.Process(proc.pid).children()
    assert len(children) >= 2
    proc.kill()
    proc.wait(10)
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"workers {[c.pid for c in alive]} outlived their supervisor"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
