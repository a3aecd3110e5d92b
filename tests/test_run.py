"""The command line: refusing to start without a secret, the demo server, create-user and verify-audit."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECRET = "cli-test-secret-0123456789abcdef0123456789"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIAYI_", "DATABASE_URL", "REDIS_URL"))}
    env["JIAYI_DATA_DIR"] = str(tmp_path / "var")
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_without_secret_refuses_clearly(tmp_path: Path) -> None:
    result = _run(["serve"], _env(tmp_path))
    assert result.returncode == 2
    assert "JIAYI_SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "var" / "jiayi.db").exists()


def test_short_secret_is_refused(tmp_path: Path) -> None:
    result = _run(["migrate"], _env(tmp_path, JIAYI_SECRET_KEY="short"))
    assert result.returncode == 2
    assert "at least 32 bytes" in result.stderr


def test_an_unknown_event_loop_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    result = _run(["serve"], _env(tmp_path, JIAYI_SECRET_KEY=SECRET, JIAYI_EVENT_LOOP="twisted"))
    assert result.returncode == 2
    assert "JIAYI_EVENT_LOOP must be one of ['uvloop', 'asyncio'], got 'twisted'" in result.stderr
    assert not (tmp_path / "var" / "jiayi.db").exists()


@pytest.mark.parametrize(("value", "says"), [("soon", "a number of seconds"), ("7200", "between 0 and 3600")])
def test_a_bad_cache_ttl_is_refused_before_anything_is_written(tmp_path: Path, value: str, says: str) -> None:
    result = _run(["serve"], _env(tmp_path, JIAYI_SECRET_KEY=SECRET, JIAYI_CACHE_TTL=value))
    assert result.returncode == 2
    assert "JIAYI_CACHE_TTL must be" in result.stderr and says in result.stderr
    assert not (tmp_path / "var" / "jiayi.db").exists()


def test_create_user_then_verify_audit_detects_an_edit(tmp_path: Path) -> None:
    env = _env(tmp_path, JIAYI_SECRET_KEY=SECRET)
    assert _run(["demo"], env).returncode == 0
    created = _run(
        ["create-user", "nurse2", "--role", "nurse", "--name", "钱芳", "--password-stdin"],
        env,
        stdin="a-long-password\n",
    )
    assert created.returncode == 0, created.stderr
    duplicate = _run(
        ["create-user", "nurse2", "--role", "nurse", "--name", "x", "--password-stdin"],
        env,
        stdin="a-long-password\n",
    )
    assert duplicate.returncode == 2
    assert "already exists" in duplicate.stderr
    ok = _run(["verify-audit"], env)
    assert ok.returncode == 0, ok.stdout
    assert "intact" in ok.stdout
    db = sqlite3.connect(tmp_path / "var" / "jiayi.db")
    with db:
        db.execute("UPDATE audit_events SET actor_username = 'someone-else' WHERE seq = 2")
    db.close()
    broken = _run(["verify-audit"], env)
    assert broken.returncode == 1
    assert "BROKEN at entry 2" in broken.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_server_starts_on_an_empty_folder_and_logs_in(tmp_path: Path) -> None:
    """What `make run` does: migrate, load the demo into the empty database, serve."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "run.py", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.2)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/auth/login",
            method="POST",
            data=b'{"username": "doctor", "password": "jiayi-demo"}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200
        _review_the_demo_recording(f"http://127.0.0.1:{port}")
        assert (tmp_path / "var" / "demo-secret.key").stat().st_mode & 0o077 == 0
        assert (tmp_path / "var" / "jiayi.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _json(url: str, body: dict[str, object] | None = None, token: str | None = None) -> dict[str, object]:
    import json

    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, method="POST" if body is not None else "GET", data=data, headers=headers
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def _review_the_demo_recording(base: str) -> None:
    """The compliance demo user finds the recorded demo consult and plays its tracks."""
    import io

    import av

    token = str(
        _json(f"{base}/api/auth/login", {"username": "compliance", "password": "jiayi-demo"})["access_token"]
    )
    items = _json(f"{base}/api/recordings", token=token)["items"]
    assert (
        isinstance(items, list)
        and len(items) == 1
        and items[0]["complete"]
        and items[0]["consent"] == "all_granted"
    )
    view = _json(f"{base}/api/recordings/{items[0]['id']}/views", {"purpose": "演示复核"}, token)
    tracks = view["tracks"]
    assert isinstance(tracks, list) and len(tracks) == 4  # two people, audio and video each
    decoded = set()
    for track in tracks:
        with urllib.request.urlopen(f"{base}{track['url']}", timeout=30) as resp:
            data = resp.read()
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams[0]
            assert sum(1 for _ in container.decode(stream)) > 0
            assert float(container.duration or 0) / av.time_base > 15  # 8 s, a 3 s pause kept as a gap, 6 s
            decoded.add(stream.codec_context.name)
    assert decoded == {"vp8", "opus"}


def test_unreachable_redis_is_refused_at_start(tmp_path: Path) -> None:
    result = _run(
        ["serve", "--port", str(_free_port())],
        _env(tmp_path, JIAYI_SECRET_KEY=SECRET, REDIS_URL="redis://127.0.0.1:1/0"),
    )
    assert result.returncode == 2
    assert "Redis at redis://127.0.0.1:1/0 does not answer" in result.stderr


def test_purge_destroys_an_expired_recording_keeps_a_held_one_and_audits(tmp_path: Path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from consult.recording import RecordingStatus
    from storage import recordings
    from storage.db import create_engine, create_sessionmaker
    from web.app import blob_store
    from web.settings import from_env

    env = _env(tmp_path, JIAYI_SECRET_KEY=SECRET)
    assert _run(["demo"], env).returncode == 0
    settings = from_env(env)
    ended = datetime(2020, 1, 10, tzinfo=UTC)  # more than 3 years ago

    async def make() -> tuple[int, int, list[str]]:
        engine = create_engine(settings.database_url)
        store = blob_store(settings)
        made = []
        async with create_sessionmaker(engine)() as session, session.begin():
            for _ in range(2):
                row = await recordings.request(session, store, consult_id=1, requested_by=1, now=ended)
                track = await recordings.track(session, row.id, 1, "audio", "opus", "webm")
                blob = await store.put(session, b"\x1aE\xdf\xa3opus", "audio/webm", key_id=row.key_id)
                await recordings.add_segment(session, track.id, 0, blob.id, 0, 10_000)
                row.status, row.ended_at = RecordingStatus.ENDED.value, ended
                row.expires_on = recordings.expiry(settings.retention, ended, ended.date())
                made.append((row.id, blob.id))
            await recordings.set_hold(session, recordings.RECORDING, made[1][0], "患者投诉，待调查", 1, ended)
        await engine.dispose()
        return made[0][0], made[1][0], [b for _, b in made]

    expired, held, blobs = asyncio.run(make())
    result = _run(["purge"], env)
    assert result.returncode == 0, result.stderr
    assert f"purged 1 recording(s)\n  recording {expired} (consult 1, 1 segments" in result.stdout
    store = blob_store(settings)
    assert not store.path_of(blobs[0]).exists() and store.path_of(blobs[1]).exists()
    db = sqlite3.connect(tmp_path / "var" / "jiayi.db")
    rows = db.execute("SELECT entity_id, purpose FROM audit_events WHERE action = 'purge'").fetchall()
    assert rows == [(str(expired), "retention")]
    assert _run(["purge"], env).stdout.startswith("purged 0 recording(s)")
    assert _run(["verify-audit"], env).returncode == 0
    assert held != expired
