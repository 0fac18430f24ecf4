#!/usr/bin/env python3
"""Control service for the browser tests (started by scripts/browser-test.sh, 127.0.0.1 only).

Lets a test running in headless Chromium stop and restart the main casweb-server, to exercise
offline and recovery paths:

  POST /main/stop    SIGKILL the main server, answer once its port is closed
  POST /main/start   start it again (same command line, port and data dir), answer once
                     /api/info answers; a no-op if it is already running
  GET  /health       200 {"ok": true}
  ANY  /hang/...     accepts the request and answers nothing for --hang-seconds (then 503):
                     a server that never answers, for timeout tests

Every answer is JSON with `Access-Control-Allow-Origin: *`; OPTIONS preflights are answered.

Usage: test_control.py --port P --main-url http://127.0.0.1:P1 --pid-file F --log-file L
                       -- casweb-server serve --listen 127.0.0.1:P1 --data-dir D1
The main server's PID is kept in --pid-file (the script that started it wrote the first one), so
whoever cleans up can kill the current process whichever started it.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

LOCK = threading.Lock()
CHILDREN = {}  # pid -> Popen, for the servers this service started (to reap them)


def port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def info_answers(url):
    try:
        with urllib.request.urlopen(url + "/api/info", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def stop_main(args):
    parsed = urlparse(args.main_url)
    pid = read_pid(args.pid_file)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child = CHILDREN.pop(pid, None)
        if child is not None:
            child.wait(timeout=10)
    deadline = time.monotonic() + 10
    while port_open(parsed.hostname, parsed.port):
        if time.monotonic() > deadline:
            return 500, {"ok": False, "error": "the main server's port is still open"}
        time.sleep(0.05)
    return 200, {"ok": True, "stopped": pid}


def start_main(args):
    if info_answers(args.main_url):
        return 200, {"ok": True, "alreadyRunning": True}
    with open(args.log_file, "ab") as log:
        child = subprocess.Popen(args.command, stdout=log, stderr=subprocess.STDOUT)
    CHILDREN[child.pid] = child
    with open(args.pid_file, "w") as f:
        f.write(str(child.pid))
    deadline = time.monotonic() + 30
    while not info_answers(args.main_url):
        if child.poll() is not None:
            return 500, {"ok": False, "error": f"the server exited with {child.returncode}"}
        if time.monotonic() > deadline:
            return 500, {"ok": False, "error": "the server did not answer /api/info in 30 s"}
        time.sleep(0.05)
    return 200, {"ok": True, "pid": child.pid}


def make_handler(args):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *values):  # quiet: the test output is what matters
            pass

        def answer(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def drain(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)

        def hang(self):
            time.sleep(args.hang_seconds)
            self.answer(503, {"error": "hung", "message": "the control service hung on purpose"})

        def do_OPTIONS(self):
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            if self.path.startswith("/hang/"):
                return self.hang()
            if self.path == "/health":
                return self.answer(200, {"ok": True})
            self.answer(404, {"error": "unknown_route", "message": self.path})

        def do_PUT(self):
            self.drain()
            if self.path.startswith("/hang/"):
                return self.hang()
            self.answer(404, {"error": "unknown_route", "message": self.path})

        def do_POST(self):
            self.drain()
            if self.path.startswith("/hang/"):
                return self.hang()
            actions = {"/main/stop": stop_main, "/main/start": start_main}
            action = actions.get(self.path)
            if action is None:
                return self.answer(404, {"error": "unknown_route", "message": self.path})
            with LOCK:
                status, payload = action(args)
            self.answer(status, payload)

    return Handler


def interrupted(*_):
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--main-url", required=True)
    parser.add_argument("--pid-file", required=True)
    parser.add_argument("--log-file", required=True)
    parser.add_argument("--hang-seconds", type=float, default=5.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command:
        parser.error("the main server's command line is required after --")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, interrupted)
    print(f"control listening on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
