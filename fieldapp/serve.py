"""`make run`'s last step: serve with gunicorn plus the job worker, and print where and how to log in."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .config import INSTANCE


def lan_ip() -> str:
    """The address a phone on the same network would use, read from the interfaces (nothing is sent)."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        out = []
    for addr in out:
        if "." in addr and not addr.startswith("127."):
            return addr
    return "127.0.0.1"


def self_signed(ip: str) -> tuple[Path, Path]:
    """A self-signed certificate in instance/tls for LAN HTTPS (geolocation and offline storage need it)."""
    folder = INSTANCE / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not cert.exists() or not key.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
                        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=fieldapp.local",
                        "-addext", f"subjectAltName=IP:{ip},IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        key.chmod(0o600)
    return cert, key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args(argv)

    ip = lan_ip()
    scheme = "https" if args.tls else "http"
    env = dict(os.environ)
    env.setdefault("PUBLIC_BASE_URL", f"{scheme}://{ip}:{args.port}")
    env["SESSION_COOKIE_SECURE"] = "1" if args.tls else env.get("SESSION_COOKIE_SECURE", "0")
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "gunicorn"), "--workers", str(args.workers), "--threads", "4",
           "--bind", f"{args.host}:{args.port}", "--access-logfile", "-", "--timeout", "60", "wsgi:app"]
    if args.tls:
        cert, key = self_signed(ip)
        cmd += ["--certfile", str(cert), "--keyfile", str(key)]
    server = subprocess.Popen(cmd, env=env)
    worker = subprocess.Popen([str(bin_dir / "flask"), "jobs", "work"], env=env)

    print()
    print("Fieldapp is running:")
    print(f"  on this machine: {scheme}://127.0.0.1:{args.port}/")
    print(f"  on a phone on the same network: {scheme}://{ip}:{args.port}/")
    if args.tls:
        print("  (self-signed certificate: accept the browser's warning once)")
    if not args.no_demo:
        try:
            from .demo import DEMO_LOGINS, DEMO_PASSWORD
        except ImportError:
            DEMO_LOGINS, DEMO_PASSWORD = [], ""
        if DEMO_LOGINS:
            print(f"Demo logins (password {DEMO_PASSWORD}):")
            for username, role_label in DEMO_LOGINS:
                print(f"  {username:<14} {role_label}")
    print("Stop with Ctrl-C.")
    sys.stdout.flush()

    def stop(*_):
        for proc in (server, worker):
            if proc.poll() is None:
                proc.terminate()
    signal.signal(signal.SIGTERM, stop)
    try:
        while server.poll() is None:
            if worker.poll() is not None:  # keep the worker alive
                time.sleep(2)
                worker = subprocess.Popen([str(bin_dir / "flask"), "jobs", "work"], env=env)
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for proc in (server, worker):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return server.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
