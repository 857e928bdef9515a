"""A small HTTP app for the /service/ proxy tests: echoes what it saw, redirects, streams
server-sent events one at a time, and counts uploaded bytes. Usage: app.py PORT"""
import hashlib
import http.server
import json
import sys
import threading

NEXT = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, headers=()):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/redirect":
            return self.reply(302, {}, [("Location", "/landed")])
        if self.path == "/refresh":
            return self.reply(200, {}, [("Refresh", "0; url=/landed")])
        if self.path == "/next":
            NEXT.set()
            return self.reply(200, {"next": True})
        if self.path == "/sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"data: one\n\n")
            self.wfile.flush()
            # The second event only after the client has seen the first (it asks /next):
            # a proxy that buffered would never deliver "one" and the test would time out.
            NEXT.wait(30)
            NEXT.clear()
            self.wfile.write(b"data: two\n\n")
            self.wfile.flush()
            self.close_connection = True
            return
        self.reply(200, {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})

    def do_POST(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunk = self.rfile.read(size)
                self.rfile.readline()
                h.update(chunk)
                n += len(chunk)
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                h.update(chunk)
                n += len(chunk)
                left -= len(chunk)
        self.reply(200, {"bytes": n, "sha256": h.hexdigest()})


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
