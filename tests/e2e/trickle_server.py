#!/usr/bin/env python3
# trickle_server.py ADDR PORT LINES INTERVAL: a TCP server for the tests' own "internet"
# namespace that sends each client LINES lines ("lineN"), one every INTERVAL seconds, then
# closes: a transfer that lasts. Prints "from IP" once per client, when it connects.
import socket
import sys
import threading
import time


def serve(conn, lines, interval):
    try:
        for i in range(lines):
            conn.sendall(b"line%d\n" % i)
            time.sleep(interval)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    addr, port, lines, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    while True:
        conn, peer = s.accept()
        print("from", peer[0], flush=True)
        threading.Thread(target=serve, args=(conn, lines, interval), daemon=True).start()


main()
