"""A WebSocket echo server (the `websockets` package). Usage: ws_echo.py PORT"""
import sys

from websockets.sync.server import serve


def echo(ws):
    for msg in ws:
        ws.send(msg)


with serve(echo, "127.0.0.1", int(sys.argv[1])) as server:
    server.serve_forever()
