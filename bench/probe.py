#!/usr/bin/env python3
"""Probes for bench/run.sh, standard library only, raw sockets on loopback.

  probe.py ready [--path P] -- CMD...        start CMD, poll GET P (/healthz) every 0.5 ms, print ms
  probe.py ttft   --url URL --body FILE -n N  N sequential streams on one keep-alive connection;
                                             JSON: time to the first content `data:` event
  probe.py streams --url URL --body FILE -n N --pid PID --hold S
                                             N concurrent slow streams; RSS of PID before,
                                             when all N have sent a content event, after close
  probe.py load   --url URL --body FILE (--rate R | --conns C) -z S
                                             fallback load generator (only when oha is missing):
                                             open loop at R req/s, latency measured from the
                                             intended send time (latency-corrected), or closed
                                             loop with C connections; JSON like a summary of oha

Every wait is bounded; nothing here talks to anything but 127.0.0.1.
"""

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit


def split_url(url):
    u = urlsplit(url)
    return u.hostname, u.port or 80, u.path or "/"


def request_bytes(host, port, path, body, method="POST"):
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Accept: */*\r\n\r\n"
    )
    return head.encode() + body


def rss_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    i = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[i]


# --- a tiny HTTP/1.1 response reader (Content-Length or chunked) ------------------------

class Conn:
    def __init__(self, host, port, timeout=10.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.buf += d

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers

    def body_pieces(self, headers):
        """Yields body bytes as they arrive (de-chunked)."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while b"\r\n" not in self.buf:
                        self._fill()
                    # trailers are not expected; consume the final CRLF
                    _, self.buf = self.buf.split(b"\r\n", 1)
                    return
                while len(self.buf) < size + 2:
                    self._fill()
                piece, self.buf = self.buf[:size], self.buf[size + 2:]
                yield piece
        else:
            n = int(headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._fill()
            piece, self.buf = self.buf[:n], self.buf[n:]
            yield piece


CONTENT = re.compile(rb'"content":"[^"]')


def first_content(sse_buf):
    """True once the SSE text holds a complete data: event with non-empty delta content."""
    for ev in sse_buf.split(b"\n\n")[:-1]:
        for line in ev.split(b"\n"):
            if line.startswith(b"data:") and CONTENT.search(line):
                return True
    return False


def cmd_ttft(a):
    host, port, path = split_url(a.url)
    body = open(a.body, "rb").read()
    req = request_bytes(host, port, path, body)
    c = Conn(host, port)
    ttft, total, bad = [], [], 0
    for i in range(a.n + a.warmup):
        t0 = time.perf_counter()
        c.s.sendall(req)
        status, headers = c.read_head()
        sse, got = b"", None
        for piece in c.body_pieces(headers):
            if got is None:
                sse += piece
                if first_content(sse):
                    got = time.perf_counter()
        t1 = time.perf_counter()
        if status != 200 or got is None:
            bad += 1
            continue
        if i >= a.warmup:
            ttft.append((got - t0) * 1000)
            total.append((t1 - t0) * 1000)
        if headers.get("connection", "").lower() == "close":
            c = Conn(host, port)
    print(json.dumps({
        "n": len(ttft), "bad": bad,
        "ttft_ms_p50": statistics.median(ttft) if ttft else None,
        "ttft_ms_p90": pct(ttft, 90), "ttft_ms_p99": pct(ttft, 99),
        "stream_ms_p50": statistics.median(total) if total else None,
    }))


def cmd_ready(a):
    """Starts the command, reads its first stdout line for the address, polls /healthz."""
    t0 = time.perf_counter()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = p.stdout.readline().decode()
        m = re.search(r"http://([0-9.]+):(\d+)", line)
        if not m:
            print(json.dumps({"error": f"no address in {line!r}"}))
            return
        host, port = m.group(1), int(m.group(2))
        t_line = time.perf_counter()
        req = f"GET {a.path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
        deadline = t0 + 10
        while time.perf_counter() < deadline:
            try:
                with socket.create_connection((host, port), timeout=1) as s:
                    s.sendall(req)
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        t1 = time.perf_counter()
                        print(json.dumps({"ready_ms": (t1 - t0) * 1000,
                                          "listen_line_ms": (t_line - t0) * 1000}))
                        return
            except OSError:
                pass
            time.sleep(0.0005)
        print(json.dumps({"error": "not ready within 10 s"}))
    finally:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()


async def one_stream(host, port, req, opened, stop, counters):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 20)
    except Exception:
        counters["connect_failed"] += 1
        return
    try:
        w.write(req)
        await w.drain()
        buf = b""
        seen = False
        while not stop.is_set():
            try:
                d = await asyncio.wait_for(r.read(4096), 1.0)
            except asyncio.TimeoutError:
                continue
            if not d:
                counters["closed_early"] += 1
                break
            if not seen:
                buf += d
                if not buf.startswith(b"HTTP/1.1 200"):
                    if b"\r\n" in buf:
                        counters["non_200"] += 1
                        break
                    continue
                if CONTENT.search(buf):
                    seen = True
                    buf = b""
                    opened.append(1)
    finally:
        w.close()


async def streams_main(a):
    host, port, path = split_url(a.url)
    body = open(a.body, "rb").read()
    req = request_bytes(host, port, path, body)
    before = rss_kib(a.pid)
    opened, stop = [], asyncio.Event()
    counters = {"connect_failed": 0, "closed_early": 0, "non_200": 0}
    t0 = time.perf_counter()
    tasks = []
    for _ in range(a.n):
        tasks.append(asyncio.create_task(one_stream(host, port, req, opened, stop, counters)))
        if len(tasks) % 100 == 0:
            await asyncio.sleep(0.01)  # do not overflow the accept backlog
    deadline = t0 + 60
    while len(opened) < a.n and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    t_open = time.perf_counter() - t0
    await asyncio.sleep(a.hold)
    during = rss_kib(a.pid)
    n_open = len(opened)
    stop.set()
    await asyncio.wait(tasks, timeout=10)
    await asyncio.sleep(1.0)
    after = rss_kib(a.pid)
    delta = during["VmRSS"] - before["VmRSS"]
    print(json.dumps({
        "requested": a.n, "open": n_open, "open_s": t_open, **counters,
        "rss_before_kib": before["VmRSS"], "rss_open_kib": during["VmRSS"],
        "rss_after_close_kib": after["VmRSS"], "hwm_kib": after["VmHWM"],
        "kib_per_stream": delta / n_open if n_open else None,
    }))


def cmd_streams(a):
    asyncio.run(streams_main(a))


# --- fallback load generator ---------------------------------------------------------------

async def load_worker(host, port, req, schedule, lat, codes, t_end, closed):
    r, w = await asyncio.open_connection(host, port)
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while True:
        if closed:
            t_int = time.perf_counter()
            if t_int >= t_end:
                break
        else:
            try:
                t_int = schedule.get_nowait()
            except asyncio.QueueEmpty:
                break
            now = time.perf_counter()
            if t_int > now:
                await asyncio.sleep(t_int - now)
        w.write(req)
        # read one response (Content-Length bodies only: the non-streaming path)
        while b"\r\n\r\n" not in buf:
            d = await r.read(65536)
            if not d:
                return
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        m = re.search(rb"(?i)content-length:\s*(\d+)", head)
        n = int(m.group(1)) if m else 0
        while len(buf) < n:
            d = await r.read(65536)
            if not d:
                return
            buf += d
        buf = buf[n:]
        lat.append(time.perf_counter() - t_int)  # from the intended start: latency-corrected
        code = head[9:12].decode()
        codes[code] = codes.get(code, 0) + 1
    w.close()


async def load_main(a):
    host, port, path = split_url(a.url)
    body = open(a.body, "rb").read()
    req = request_bytes(host, port, path, body)
    lat, codes = [], {}
    t0 = time.perf_counter() + 0.2
    t_end = t0 + a.z
    closed = a.rate is None
    schedule = asyncio.Queue()
    if not closed:
        n = int(a.rate * a.z)
        for i in range(n):
            schedule.put_nowait(t0 + i / a.rate)
    conns = a.conns
    workers = [load_worker(host, port, req, schedule, lat, codes, t_end, closed) for _ in range(conns)]
    await asyncio.gather(*workers, return_exceptions=True)
    wall = time.perf_counter() - t0
    ok = codes.get("200", 0)
    print(json.dumps({
        "summary": {"successRate": ok / max(1, sum(codes.values())), "total": wall,
                    "requestsPerSec": sum(codes.values()) / wall},
        "latencyPercentiles": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                               "p99.9": pct(lat, 99.9)},
        "statusCodeDistribution": codes,
        "generator": "probe.py (python asyncio)",
    }))


def cmd_load(a):
    asyncio.run(load_main(a))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd_name", required=True)
    r = sub.add_parser("ready")
    r.add_argument("--path", default="/healthz")
    r.add_argument("cmd", nargs=argparse.REMAINDER)
    t = sub.add_parser("ttft")
    t.add_argument("--url", required=True)
    t.add_argument("--body", required=True)
    t.add_argument("-n", type=int, default=200)
    t.add_argument("--warmup", type=int, default=20)
    s = sub.add_parser("streams")
    s.add_argument("--url", required=True)
    s.add_argument("--body", required=True)
    s.add_argument("-n", type=int, default=1000)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--hold", type=float, default=3.0)
    l = sub.add_parser("load")
    l.add_argument("--url", required=True)
    l.add_argument("--body", required=True)
    l.add_argument("--rate", type=float)
    l.add_argument("--conns", type=int, default=64)
    l.add_argument("-z", type=float, default=10)
    a = p.parse_args()
    {"ready": cmd_ready, "ttft": cmd_ttft, "streams": cmd_streams, "load": cmd_load}[a.cmd_name](a)


if __name__ == "__main__":
    main()
