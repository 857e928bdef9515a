"""Sends messages through a WebSocket URL and checks each comes back. Usage: ws_client.py URL"""
import sys

from websockets.sync.client import connect

with connect(sys.argv[1], open_timeout=10, close_timeout=5) as ws:
    for msg in ["hello", "x" * 100_000, "bye"]:
        ws.send(msg)
        got = ws.recv(timeout=10)
        assert got == msg, f"sent {len(msg)} chars, got {len(got)} back"
print("echoed 3")
