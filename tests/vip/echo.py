"""A TCP and UDP echo backend for the VIP tests. Usage: echo.py PORT NAME
TCP: greets each connection with "NAME\n", then echoes what it reads until EOF.
UDP: answers each datagram with "NAME " followed by the datagram."""
import socket
import socketserver
import sys
import threading

PORT = int(sys.argv[1])
NAME = sys.argv[2].encode()


class Tcp(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(NAME + b"\n")
        while True:
            data = self.request.recv(4096)
            if not data:
                return
            self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", PORT))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(NAME + b" " + data, peer)


threading.Thread(target=udp, daemon=True).start()
Server(("127.0.0.1", PORT), Tcp).serve_forever()
