"""The Backend API flood of `bench/soak --flood` (see bench/README.md): made-up handshake nonces
and API keys against the app, then the requests that must still be served.

The app runs with a secret key against a stand-in Backend API on 127.0.0.1 (this module's
`BackendApi`), a production publishable key (nonces come as cookies) and
CLERK_TRUSTED_PROXIES=127.0.0.1, so that the flood can come from many clients: the clients are
`X-Forwarded-For` values from the TEST-NET ranges, never contacted. Bounded: a fixed number of
requests. Nothing but 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpbench as hb

SECRET = "sk_live_bench_flood"
BUDGET = 100
VALID_KEY = "ak_bench_valid_" + "k" * 24
VALID_USER = "user_bench_apikey"


class BackendApi:
    """A stand-in Backend API: unknown nonces and keys get 404, as Clerk answers them; one valid
    API key; any user looked up exists. Counts the calls by path."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def count(self) -> str:
                path = self.path.split("?")[0]
                key = "/v1/users/{id}" if path.startswith("/v1/users/") else path
                with outer.lock:
                    outer.calls[key] = outer.calls.get(key, 0) + 1
                return path

            def do_GET(self) -> None:
                path = self.count()
                if path.startswith("/v1/users/"):
                    user = path.rsplit("/", 1)[1]
                    self.answer(200, {
                        "id": user, "object": "user", "primary_email_address_id": "idn_1",
                        "email_addresses": [{"id": "idn_1",
                                             "email_address": f"{user}@example.test"}],
                        "public_metadata": {}, "banned": False, "updated_at": 1,
                    })
                else:
                    self.answer(404, {"errors": [{"code": "resource_not_found"}]})

            def do_POST(self) -> None:
                path = self.count()
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if path == "/api_keys/verify" and str(body.get("secret")).startswith(VALID_KEY):
                    now_ms = int(time.time() * 1000)
                    self.answer(200, {
                        "object": "api_key", "id": "ak_id_bench", "type": "api_key",
                        "name": "bench", "subject": VALID_USER, "scopes": [], "claims": None,
                        "revoked": False, "expired": False, "expiration": now_ms + 3_600_000,
                        "created_at": now_ms, "updated_at": now_ms,
                    })
                else:
                    self.answer(404, {"errors": [{"code": "token_invalid"}]})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def total(self) -> int:
        with self.lock:
            return sum(self.calls.values())

    def stop(self) -> None:
        self.server.shutdown()


def publishable_key(host: str) -> str:
    return "pk_live_" + base64.b64encode(f"{host}$".encode()).decode().rstrip("=")


def app(backend: str, pg_url: str, jwks: hb.Jwks, api: BackendApi) -> hb.Server:
    env = {
        "DATABASE_URL": hb.database_url(backend, pg_url),
        "CLERK_LOCAL_MODE": "false",
        "CLERK_PUBLISHABLE_KEY": publishable_key(hb.ISSUER.removeprefix("https://")),
        "CLERK_JWKS_URL": jwks.url,
        "CLERK_AUTHORIZED_PARTIES": hb.AZP,
        "CLERK_MAX_TOKEN_LIFETIME_SECS": str(hb.MAX_LIFETIME_SECS),
        "CLERK_SECRET_KEY": SECRET,
        "CLERK_API_URL": api.url,
        "CLERK_BACKEND_API_BUDGET": str(BUDGET),
        "CLERK_TRUSTED_PROXIES": "127.0.0.1",
    }
    return hb.Server(hb.RELEASE / "clerk-rocket", env, "/ready", f"flood-{backend}")


def get(base: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        return response.status, body
    finally:
        conn.close()


def code(body: str) -> str:
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""


def flood(base: str, n: int, clients: int, workers: int = 32) -> dict[str, int]:
    """`n` made-up nonces and `n` made-up API keys, from `clients` forwarded addresses in turn.
    Counts the answers: 2xx-4xx, 503 rate-limited, anything else (a failure)."""
    counts = {"ok": 0, "rate-limited": 0, "bad": 0}
    lock = threading.Lock()

    def one(i: int) -> None:
        client = f"198.18.{(i % clients) // 250}.{(i % clients) % 250 + 1}"
        nonce = uuid.uuid4().hex
        page = get(base, "/", {
            "Accept": "text/html", "Sec-Fetch-Dest": "document", "X-Forwarded-For": client,
            "Cookie": f"__clerk_handshake_nonce={nonce}; __client_uat={int(time.time())}",
        })
        key = get(base, "/api/whoami", {"Authorization": f"Bearer ak_{uuid.uuid4().hex}",
                                        "X-Forwarded-For": client})
        with lock:
            for status, body in (page, key):
                if status < 500:
                    counts["ok"] += 1
                elif status == 503 and code(body) == "rate-limited":
                    counts["rate-limited"] += 1
                else:
                    counts["bad"] += 1

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))
    return counts


def valid_requests(base: str, first_sign_in: str, key: str) -> dict[str, tuple[int, str]]:
    """What must be served right after a flood, each from a client of its own. The new API key
    may be told to come back after Retry-After (a flood from many clients can spend the
    machines' share, which refills 4 calls a second): it does so once, as a client should."""
    key_headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "192.0.2.10"}
    new_key = get(base, "/api/whoami", key_headers)
    if new_key[0] == 503 and code(new_key[1]) == "rate-limited":
        print("  new API key: 503 rate-limited at once; again after Retry-After")
        time.sleep(2)
        new_key = get(base, "/api/whoami", key_headers)
    return {
        "new API key": new_key,
        "first sign-in (no email claim)": get(base, "/api/users/me", {
            "Authorization": f"Bearer {first_sign_in}", "X-Forwarded-For": "192.0.2.11"}),
    }


def run(backend: str, pg_url: str, requests: int, clients: int) -> bool:
    """The flood phases; True when every check passes."""
    hb.keys()
    w = hb.WORK
    first = hb.mint(w / "flood-no-email.txt", 4, kind="no-email", first_user=20_000_000)
    sign_ins = Path(first).read_text().split()
    jwks = hb.Jwks()
    api = BackendApi()
    server = app(backend, pg_url, jwks, api)
    checks: dict[str, bool] = {}
    try:
        for phase, (n, spread) in enumerate([(requests, 1), (requests, clients)]):
            label = "one client" if spread == 1 else f"{spread} clients"
            before = api.total()
            started = time.monotonic()
            counts = flood(server.base, n, spread)
            secs = time.monotonic() - started
            calls = api.total() - before
            print(f"\nflood, {label}: {n} nonces + {n} API keys in {secs:.1f} s: answers "
                  f"{counts['ok']} < 500, {counts['rate-limited']} 503 rate-limited, "
                  f"{counts['bad']} other; Backend API calls {calls} "
                  f"({json.dumps(api.calls)})")
            served = valid_requests(server.base, sign_ins[phase], f"{VALID_KEY}{phase}")
            for name, (status, body) in served.items():
                print(f"  {name}: {status} {code(body)}")
                checks[f"{label}: {name} served"] = status == 200
            # The budget per 10 s, and its refill meanwhile.
            allowed = BUDGET + int(BUDGET * secs / 10) + 2
            checks[f"{label}: no other 5xx"] = counts["bad"] == 0
            checks[f"{label}: Backend API calls within the budget ({allowed})"] = calls <= allowed
            time.sleep(10)  # the shares refill before the next phase
    finally:
        server.stop()
        api.stop()
        jwks.stop()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    return all(checks.values())
