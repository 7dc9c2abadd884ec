"""The app served for real, for the benchmarks: gunicorn in the production configuration on 127.0.0.1.

`start()` makes a fresh temporary INSTANCE_PATH (SQLite file there, or the database in DATABASE_URL when set),
runs `flask db upgrade` and `flask demo load` in it, and serves `wsgi:app` with the same gunicorn flags as
`make run` (fieldapp/serve.py) on a free port of 127.0.0.1. The only departure from production is
RATELIMIT_ENABLED=0, so the benchmark's logins and request loops are not throttled; the table says so.
If the demo cannot be loaded, a system administrator is created instead and the server says so in its notes.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKERS = 2   # as `make run` (WORKERS ?= 2)
THREADS = 4   # as fieldapp/serve.py
FALLBACK_ADMIN = "admin"
FALLBACK_PASSWORD = "demo1234"


@dataclass
class Server:
    """A running app: where it listens, what it runs on, and who can log in."""

    url: str
    host: str
    port: int
    engine: str                      # "sqlite" or "postgresql"
    database: str                    # printable (no password)
    database_uri: str | None         # for an in-process app reading the same database (None: DATABASE_URL)
    instance: Path
    env: dict[str, str]
    logins: dict[str, str]           # role code -> username
    password: str
    demo_loaded: bool
    households: int = 0              # demo households loaded (grow() adds more)
    notes: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    server_cpus: str | None = None   # taskset list the app is pinned to ("1"), None on a one-core machine
    client_cpus: str | None = None   # taskset list for load generators ("0")

    def describe(self) -> dict:
        return {"url": self.url, "engine": self.engine, "database": self.database, "workers": WORKERS,
                "threads": THREADS, "demo_loaded": self.demo_loaded, "households": self.households,
                "server_cpus": self.server_cpus, "client_cpus": self.client_cpus, "notes": self.notes}

    def gunicorn_cmd(self, bind: str, app: str = "wsgi:app", log: Path | None = None) -> list[str]:
        """gunicorn with the production flags (as `make run`), pinned to the server's core: the app itself and
        the baselines (bench/hello.py) are served the same way."""
        cmd = [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--threads", str(THREADS), "--bind", bind,
               "--timeout", "60", "--access-logfile", str(self.instance / f"access-{bind.rsplit(':', 1)[-1]}.log"),
               "--error-logfile", str(log or self.instance / "bench-server.log"), app]
        return self.pin_server(cmd)

    def pin_server(self, cmd: list[str]) -> list[str]:
        return ["taskset", "-c", self.server_cpus, *cmd] if self.server_cpus else list(cmd)

    def pin_client(self, cmd: list[str]) -> list[str]:
        """A load generator's command line, pinned to the core the server does not use."""
        return ["taskset", "-c", self.client_cpus, *cmd] if self.client_cpus else list(cmd)

    def flask(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
        """Run a `flask` command against this instance's database (output captured)."""
        return subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _engine_of(url: str) -> str:
    return "postgresql" if url.startswith("postgres") else ("sqlite" if url.startswith("sqlite") or not url else
                                                            url.split(":", 1)[0])


def _printable(url: str) -> str:
    """The database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


PREPARE_OK, PREPARE_NO_DEMO, PREPARE_FAILED = 0, 3, 1


def prepare() -> int:
    """`python -m bench.server`: run `flask db upgrade` then `flask demo load` (falling back to
    `flask users create-admin`) as CLI commands in one process, so the app is imported once, not three times."""
    from fieldapp import create_app
    runner = create_app().test_cli_runner()

    def flask(*args: str) -> bool:
        print(f"$ flask {' '.join(args)}", flush=True)
        result = runner.invoke(args=list(args))
        print(result.output, end="", flush=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback
            traceback.print_exception(result.exception)
        return result.exit_code == 0
    if not flask("db", "upgrade"):
        return PREPARE_FAILED
    households = os.environ.get("BENCH_HOUSEHOLDS", "").strip()
    if flask("demo", "load", *(["--households", households] if households else [])):
        return PREPARE_OK
    flask("users", "create-admin", "--username", FALLBACK_ADMIN, "--name", "Bench Admin",
          "--password", FALLBACK_PASSWORD)
    return PREPARE_NO_DEMO


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_healthy(server: Server, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.proc.returncode}:\n{_tail(log)}")
        try:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the app did not answer /healthz within {timeout:.0f} s:\n{_tail(log)}")


def _count_households(server: Server) -> int:
    """Households in the database the server uses (read in a subprocess with the server's environment)."""
    code = ("from fieldapp import create_app\nfrom fieldapp.extensions import db\nimport sqlalchemy as sa\n"
            "from fieldapp.households.models import Household\napp = create_app()\n"
            "with app.app_context():\n    print(db.session.scalar(sa.select(sa.func.count(Household.id))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=server.env, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=120)
    try:
        return int(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0


def _demo_logins() -> tuple[dict[str, str], str]:
    """Role code -> demo username, and the demo password (from fieldapp.demo)."""
    from fieldapp.demo import DEMO_PASSWORD
    try:
        from fieldapp.demo import DEMO_LOGIN_ROLES
    except ImportError:  # an older demo package: guess from the documented usernames
        DEMO_LOGIN_ROLES = {"admin": "sysadmin", "hq": "hq_admin", "manager1": "branch_manager",
                            "officer1": "grid_officer", "secretary1": "village_secretary", "panel1": "panel_member",
                            "mediator1": "mediator", "auditor1": "auditor"}
    by_role: dict[str, str] = {}
    for username, role in DEMO_LOGIN_ROLES.items():
        by_role.setdefault(role, username)
    return by_role, DEMO_PASSWORD


@contextlib.contextmanager
def start(keep: bool = False, echo=lambda _msg: None, households: int | None = None,
          reuse: Path | None = None) -> Iterator[Server]:
    """Serve the app until the block ends; the temporary instance is removed afterwards unless `keep`.
    `households`: the demo county's size (default: the demo's own default). `reuse`: an instance folder prepared
    by an earlier run (`--keep`): served as it is, nothing loaded, kept afterwards (for working on one producer)."""
    if reuse is not None:
        keep = True
    instance = Path(reuse) if reuse is not None else Path(tempfile.mkdtemp(prefix="fieldapp-bench-"))
    host, port = "127.0.0.1", free_port()
    url = f"http://{host}:{port}"
    db_url = os.environ.get("DATABASE_URL", "").strip()
    env = dict(os.environ)
    env.update({
        "INSTANCE_PATH": str(instance), "FLASK_APP": "wsgi.py", "PYTHONDONTWRITEBYTECODE": "1",
        "PUBLIC_BASE_URL": url, "SESSION_COOKIE_SECURE": "0", "RATELIMIT_ENABLED": "0",
    })
    if households is not None:
        env["BENCH_HOUSEHOLDS"] = str(households)
    log = instance / "bench-server.log"
    server = Server(url=url, host=host, port=port, engine=_engine_of(db_url),
                    database=_printable(db_url) if db_url else f"SQLite file in {instance}",
                    database_uri=None if db_url else f"sqlite:///{instance / 'fieldapp.sqlite3'}",
                    instance=instance, env=env, logins={}, password="", demo_loaded=False)
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) >= 2 and shutil.which("taskset"):
        server.client_cpus, server.server_cpus = str(cores[0]), ",".join(map(str, cores[1:]))
        server.notes.append(f"gunicorn pinned to CPU {server.server_cpus}, load generators to CPU "
                            f"{server.client_cpus} (taskset)")
    server.notes.append("RATELIMIT_ENABLED=0 (the only change from the production configuration)")
    if db_url:
        server.notes.append("DATABASE_URL is set: migrated and demo-loaded in place (use a throwaway database)")
    try:
        if reuse is not None:
            echo(f"bench: reusing the prepared instance {instance} ({server.database})")
            code = PREPARE_OK
            server.notes.append(f"reused a prepared instance ({instance}): demo load times are not measured")
        else:
            echo(f"bench: flask db upgrade and flask demo load ({server.database}) …")
            with log.open("a") as out:
                code = subprocess.run([sys.executable, "-m", "bench.server"], cwd=ROOT, env=env, stdout=out,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=1800).returncode
        if code == PREPARE_OK:
            server.demo_loaded = True
            server.households = _count_households(server)
            server.logins, server.password = _demo_logins()
        elif code == PREPARE_NO_DEMO:
            server.notes.append("the demo did not load (see bench-server.log with --keep): measured with a "
                                "system administrator only")
            server.logins, server.password = {"sysadmin": FALLBACK_ADMIN}, FALLBACK_PASSWORD
        else:
            raise RuntimeError(f"preparing the database failed:\n{_tail(log)}")
        cmd = server.gunicorn_cmd(f"{host}:{port}", log=log)
        echo(f"bench: starting gunicorn on {url} …")
        server.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_healthy(server, log)
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=5)
        if keep:
            echo(f"bench: kept the instance in {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(prepare())
