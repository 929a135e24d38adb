"""Shared pieces of bench/run and bench/soak (Python 3.11, standard library only).

The app runs in release mode in Clerk mode, as in production: CLERK_JWT_ISSUER names an issuer
and CLERK_JWKS_URL points at a static JWKS served by `python3 -m http.server` on 127.0.0.1, so
that keys go through the remote key store (fetch, cache, kid lookup). Tokens are Clerk-shaped v2
session tokens minted by `examples/bench_tokens.rs` with the key behind that JWKS. Load comes
from wrk with bench/wrk.lua. Nothing but 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")).resolve()
# BENCH_PROFILE=debug (with --no-build) tries a script on the debug build; figures come from release.
RELEASE = TARGET / os.environ.get("BENCH_PROFILE", "release")
WORK = TARGET / "bench-http"
ISSUER = "https://clerk.bench.invalid"
AZP = "http://localhost:3000"
PG_SCHEMA = "clerk_rocket_http_bench"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"
# Long enough for the million tokens of --memory to be minted once and reused for days.
MAX_LIFETIME_SECS = 5 * 86400


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def build() -> None:
    """The app, the bare baseline and the token minter, in release mode."""
    cmd = ["cargo", "build", "--release", "--bin", "clerk-rocket",
           "--example", "bench_bare", "--example", "bench_tokens"]
    log("$", " ".join(cmd))
    subprocess.run(cmd, cwd=ROOT, check=True)


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        sys.exit(f"error: {tool} is not installed (apt-get install -y {tool})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"error: {url} did not answer 200 within {seconds} s")
        time.sleep(0.2)


def tokens_tool(*args: str) -> None:
    subprocess.run([str(RELEASE / "examples" / "bench_tokens"), *args], check=True)


def keys() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    tokens_tool("key", str(WORK))


def mint(out: Path, users: int, kind: str = "valid", first_user: int = 0,
         per_user: int = 1, ttl: int = 3600) -> Path:
    tokens_tool("mint", "--dir", str(WORK), "--out", str(out), "--iss", ISSUER, "--azp", AZP,
                "--users", str(users), "--first-user", str(first_user),
                "--per-user", str(per_user), "--ttl", str(ttl), "--kind", kind)
    return out


class Jwks:
    """`python3 -m http.server` serving WORK/www (the JWKS, and nothing else) on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1",
             "--directory", str(WORK / "www")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}/.well-known/jwks.json"
        wait_http(self.url)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def database_url(backend: str, pg_url: str) -> str:
    """A fresh database: a new SQLite file, or a new PostgreSQL schema (dropped first)."""
    if backend == "sqlite":
        for f in WORK.glob("bench.db*"):
            f.unlink()
        return f"sqlite://{WORK}/bench.db?mode=rwc"
    need("psql")
    sql = (f"CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public; "
           f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE; CREATE SCHEMA {PG_SCHEMA};")
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", pg_url, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    sep = "&" if "?" in pg_url else "?"
    return f"{pg_url}{sep}options=-csearch_path%3D{PG_SCHEMA}"


class Server:
    """A release binary listening on 127.0.0.1; its access log goes to a file in WORK."""

    def __init__(self, binary: Path, env: dict[str, str], ready: str, name: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items()
                if not k.startswith(("CLERK_", "ROCKET_", "DATABASE_URL"))}
        full.update({"ROCKET_ADDRESS": "127.0.0.1", "ROCKET_PORT": str(self.port),
                     "ROCKET_LOG_LEVEL": "critical"})
        full.update(env)
        self.log_path = WORK / f"{name}.log"
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(binary)], cwd=ROOT, env=full,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        try:
            wait_http(self.base + ready)
        except SystemExit:
            self.stop()
            log(self.log_path.read_text()[-2000:])
            raise

    def status(self, field_name: str) -> int:
        """A kB field of /proc/PID/status (VmRSS, VmHWM), in bytes."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(field_name)

    def rss(self) -> int:
        return self.status("VmRSS")

    def peak(self) -> int:
        return self.status("VmHWM")

    def reset_peak(self) -> None:
        """Resets VmHWM to the current RSS (Linux ≥ 4.0), so that a peak is per scenario."""
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        except OSError:
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def app(backend: str, pg_url: str, jwks: Jwks) -> Server:
    env = {
        "DATABASE_URL": database_url(backend, pg_url),
        "CLERK_LOCAL_MODE": "false",
        "CLERK_JWT_ISSUER": ISSUER,
        "CLERK_JWKS_URL": jwks.url,
        "CLERK_AUTHORIZED_PARTIES": AZP,
        "CLERK_MAX_TOKEN_LIFETIME_SECS": str(MAX_LIFETIME_SECS),
    }
    return Server(RELEASE / "clerk-rocket", env, "/ready", f"app-{backend}")


def bare() -> Server:
    return Server(RELEASE / "examples" / "bench_bare", {}, "/health", "bare")


@dataclass
class Load:
    """One wrk run's settings (see bench/wrk.lua)."""
    path: str = "/health"
    pools: list[tuple[Path, int, str]] = field(default_factory=list)
    stream: Path | None = None
    carrier: str = "bearer"
    client_uat: int = 1
    # For a mix with invalid tokens, 4xx answers are expected: only 5xx and socket errors count.
    expect_4xx: bool = False


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    peak: int
    raw: dict


def wrk(base: str, load: Load, seconds: float, connections: int, threads: int = 1,
        seed: int = 1) -> dict:
    """One wrk run; its BENCH_RESULT line as a dict. A streamed run ends when the stream does
    (wrk.thread:stop() does not end wrk's -d wait, so it gets SIGINT and then reports):
    "stream_seconds" is the time until the stream's end."""
    done_file = WORK / "stream.done"
    done_file.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update({
        "BENCH_PATH": load.path,
        "BENCH_CARRIER": load.carrier,
        "BENCH_CLIENT_UAT": str(load.client_uat),
        "BENCH_POOLS": ",".join(f"{p}:{w}:{m}" for p, w, m in load.pools),
        "BENCH_STREAM": str(load.stream or ""),
        "BENCH_DONE_FILE": str(done_file),
        "BENCH_SEED": str(seed),
        "BENCH_COUNT_STATUSES": "1" if load.expect_4xx else "0",
    })
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "5s",
           "-s", str(BENCH / "wrk.lua"), base + load.path]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    stream_seconds = None
    if load.stream is not None:
        while proc.poll() is None and not done_file.exists():
            time.sleep(0.2)
        stream_seconds = time.monotonic() - started
        time.sleep(1)  # the answers still in flight
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"error: wrk failed ({proc.returncode}):\n{out}{err}")
    for line in out.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw = json.loads(line.removeprefix("BENCH_RESULT "))
            raw["stream_seconds"] = stream_seconds
            return raw
    raise SystemExit(f"error: wrk printed no result:\n{out}{err}")


def socket_errors(raw: dict) -> int:
    return raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]


def errors(raw: dict, expect_4xx: bool) -> int:
    """5xx and socket errors for the invalid mix (statuses counted in Lua); elsewhere every
    answer that is not 2xx or 3xx (wrk's own count), and socket errors."""
    if expect_4xx:
        return raw["n5"] + raw["other"] + socket_errors(raw)
    return raw["status_errors"] + socket_errors(raw)


def measure(server: Server, load: Load, seconds: float, connections: int, seed: int = 1) -> Result:
    server.reset_peak()
    raw = wrk(server.base, load, seconds, connections, seed=seed)
    return Result(
        rps=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=errors(raw, load.expect_4xx),
        peak=server.peak(),
        raw=raw,
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f}"
