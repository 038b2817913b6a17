#!/usr/bin/env python3
"""Server memory per idle keep-alive HTTP connection (issue #5's RSS figure).

Starts a server command, lets it warm up, opens N connections to it, sends one GET on each
and reads the answer (so every connection has served a request and is idle in keep-alive),
then reads the server's VmRSS. Requests go out in waves of --wave connections (as
connections arriving over time would), so the figure is what idle connections hold, not the
peak of N requests in flight at once. Prints RESULT lines with the RSS before and after and the
difference per connection. Loopback only; every socket is closed and the server killed at
the end.

    python3 benches/idle_conns.py --n 10000 -- target/release/examples/hello --sleep-ms 0
    python3 benches/idle_conns.py --n 10000 --label go -- ~/.cache/goro-peers/go-bin/hello \
        -addr 127.0.0.1:8080

With --tls every connection is HTTPS (issue #21's figure: RSS per idle keep-alive TLS
connection): the handshakes run one after another per wave, then the wave's requests go out
together. --ca FILE verifies the server's certificate for --host (default localhost);
without it the certificate is not checked (loopback measurements only).

    python3 benches/idle_conns.py --tls --ca cert.pem --n 10000 -- \
        target/release/examples/hello --cert cert.pem --key key.pem
"""
import argparse
import resource
import selectors
import socket
import ssl
import subprocess
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_listening(port, limit=10.0):
    t = time.time()
    while time.time() - t < limit:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}")


def response_done(got):
    """True once `got` holds a whole response (head and Content-Length body)."""
    head_end = got.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    head = got[:head_end].decode("latin-1").lower()
    length = 0
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return len(got) >= head_end + 4 + length


def get_all_tls(socks, req):
    """As get_all over TLS sockets (blocking, with a timeout): every request is sent
    before any response is read, so the server still has the wave in flight at once."""
    for s in socks:
        s.sendall(req)
    for s in socks:
        got = b""
        while not response_done(got):
            data = s.recv(65536)
            if not data:
                raise RuntimeError("server closed a connection")
            got += data


def get_all(socks, port):
    """One GET per socket, all in flight at once; waits for every response's end."""
    req = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    if socks and isinstance(socks[0], ssl.SSLSocket):
        return get_all_tls(socks, req)
    sel = selectors.DefaultSelector()
    pending = {}
    for s in socks:
        s.sendall(req)
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b""
    deadline = time.time() + 60
    while pending and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data = s.recv(65536)
            if not data:
                raise RuntimeError("server closed a connection")
            pending[s] += data
            if response_done(pending[s]):
                sel.unregister(s)
                del pending[s]
    if pending:
        raise RuntimeError(f"{len(pending)} responses missing")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--wave", type=int, default=100)
    ap.add_argument("--label", default="server")
    ap.add_argument("--tls", action="store_true", help="connect with TLS (HTTPS)")
    ap.add_argument("--ca", help="with --tls: verify the server against this PEM file")
    ap.add_argument("--host", default="localhost", help="with --tls: the name sent as SNI")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, a.n + 1000)), hard))
    ctx = None
    if a.tls:
        ctx = ssl.create_default_context(cafile=a.ca) if a.ca else ssl.SSLContext(
            ssl.PROTOCOL_TLS_CLIENT)
        if not a.ca:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])

    def connect():
        s = socket.create_connection(("127.0.0.1", a.port))
        if ctx is None:
            return s
        s.settimeout(60)
        return ctx.wrap_socket(s, server_hostname=a.host)

    srv = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socks = []
    try:
        wait_listening(a.port)
        # Warm-up: a few connections' worth of requests, so lazy set-up is not counted.
        warm = [connect() for _ in range(50)]
        get_all(warm, a.port)
        for s in warm:
            s.close()
        time.sleep(0.5)
        before = rss_kib(srv.pid)
        while len(socks) < a.n:
            wave = [connect() for _ in range(min(a.wave, a.n - len(socks)))]
            get_all(wave, a.port)
            socks.extend(wave)
        time.sleep(1.0)
        after = rss_kib(srv.pid)
        per = (after - before) * 1024 / a.n
        bench = "idle_conns_tls" if a.tls else "idle_conns"
        print(f"RESULT bench={bench} label={a.label} n={a.n} wave={a.wave} rss_before_kib={before} "
              f"rss_after_kib={after} bytes_per_conn={per:.0f}")
    finally:
        for s in socks:
            s.close()
        srv.kill()
        srv.wait()


if __name__ == "__main__":
    sys.exit(main())
