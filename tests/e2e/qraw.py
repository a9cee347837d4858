#!/usr/bin/env python3
"""Raw-socket client for the end-to-end tests (no qubesd-query in between).

Answers are printed with NUL shown as '|', as lib.sh's call() does.

  qraw.py send [--no-shutdown] [--timeout S]   request bytes from stdin
  qraw.py connect-close                         connect, send nothing, close
  qraw.py half                                  half a request, then close
  qraw.py silent-vs-served                      a silent client must not
                                                delay another one
  qraw.py concurrent N TEMPLATE                 N clients at once, Create or Get
  qraw.py events DEST UNTIL READYFILE [--timeout S]
                                                subscribe to admin.Events; print
                                                one line per event until the
                                                event named UNTIL arrived
  qraw.py subscribe-and-drop DEST               subscribe, then hang up at once
"""
import os
import socket
import sys
import threading
import time


def sock_path():
    return os.path.join(os.environ["QUBES_ROOT"], "run", "qubesd.sock")


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path())
    return s


def show(data):
    return data.replace(b"\0", b"|").decode("utf-8", "backslashreplace")


def read_all(s, timeout):
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        out += b"<TIMEOUT>"
    return out


def request(req, timeout=5.0, shutdown=True):
    s = connect()
    try:
        try:
            s.sendall(req)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
        except (ConnectionResetError, BrokenPipeError):
            pass
        return read_all(s, timeout)
    finally:
        s.close()


def cmd_send(args):
    shutdown = "--no-shutdown" not in args
    timeout = 5.0
    if "--timeout" in args:
        timeout = float(args[args.index("--timeout") + 1])
    req = sys.stdin.buffer.read()
    sys.stdout.write(show(request(req, timeout, shutdown)))


def cmd_batch(args):
    """Each argument is one request (backslash escapes decoded) or a
    directive: @close (connect, close), @half (half a request, close),
    @wait:REQ (no half-close: must time out), @strm:REQ
    (half-close, read for 0.3 s), @repr:REQ (print the answer
    as a Python bytes literal). One output line (or more) per item."""
    import codecs
    for a in args:
        if a == "@close":
            connect().close()
            print("closed")
            continue
        if a == "@half":
            cmd_half(None)
            print("closed")
            continue
        mode = None
        if a.startswith("@wait:") or a.startswith("@repr:") or a.startswith("@strm:"):
            mode, a = a[1:5], a[6:]
        req = codecs.escape_decode(a.encode())[0]
        if mode == "wait":
            print(show(request(req, timeout=0.3, shutdown=False)))
        elif mode == "strm":
            print(show(request(req, timeout=0.3)))
        elif mode == "repr":
            print(repr(request(req)))
        else:
            print(show(request(req)))


def cmd_connect_close(_):
    s = connect()
    s.close()


def cmd_half(_):
    s = connect()
    s.sendall(b"admin.vm.Li")
    s.close()


def cmd_silent_vs_served(_):
    silent = connect()
    try:
        start = time.monotonic()
        ans = request(b"admin.vm.List+ dom0 name dom0\0", timeout=3.0)
        elapsed = time.monotonic() - start
        print(show(ans.split(b"\n")[0]))
        print("prompt" if elapsed < 0.5 else "slow: %.3f s" % elapsed)
        # the silent one is still connected and unanswered
        silent.settimeout(0.05)
        try:
            got = silent.recv(10)
            print("silent got: %r" % got)
        except socket.timeout:
            print("silent still waiting")
    finally:
        silent.close()


def cmd_concurrent(args):
    n = int(args[0])
    template = args[1]
    results = [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        if i % 2 == 0:
            req = ("admin.vm.Create.AppVM+%s dom0 name dom0\0name=c%03d label=red"
                   % (template, i)).encode()
            want = b"0\0"
        else:
            req = b"admin.vm.property.Get+klass dom0 name " + template.encode() + b"\0"
            want = b"0\0default=True type=str TemplateVM"
        try:
            barrier.wait(timeout=10)
            got = request(req, timeout=10.0)
        except Exception as e:  # pylint: disable=broad-except
            got = ("exception %r" % e).encode()
        results[i] = (got == want, got)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [(i, r[1]) for i, r in enumerate(results) if not r[0]]
    print("ok %d/%d" % (n - len(bad), n))
    for i, got in bad[:5]:
        print("client %d got %s" % (i, show(got)))


def parse_events(buf):
    """Splits complete events off buf; returns (events, rest)."""
    events = []
    while True:
        if len(buf) < 2:
            return events, buf
        fields = []
        pos = 2
        complete = False
        while True:
            nul = buf.find(b"\0", pos)
            if nul < 0:
                break
            field = buf[pos:nul]
            pos = nul + 1
            if len(fields) >= 2 and len(fields) % 2 == 0 and field == b"":
                complete = True
                break
            fields.append(field)
        if not complete:
            return events, buf
        events.append((buf[:2], fields))
        buf = buf[pos:]


def cmd_events(args):
    dest, until, ready = args[0], args[1], args[2]
    timeout = 5.0
    if "--timeout" in args:
        timeout = float(args[args.index("--timeout") + 1])
    s = connect()
    s.sendall(b"admin.Events+ dom0 name " + dest.encode() + b"\0")
    s.shutdown(socket.SHUT_WR)
    s.settimeout(timeout)
    buf = b""
    announced = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                print("<EOF>")
                break
            buf += chunk
            events, buf = parse_events(buf)
            done = False
            for head, fields in events:
                line = show(head[:1]) + "|" + "|".join(
                    [f.decode() for f in fields[:2]]
                    + ["%s=%s" % (fields[i].decode(), fields[i + 1].decode())
                       for i in range(2, len(fields), 2)])
                print(line, flush=True)
                if not announced:
                    announced = True
                    with open(ready, "w", encoding="ascii") as f:
                        f.write("ready\n")
                # UNTIL: an event name, or SUBJECT/EVENT for one qube's
                if until in (fields[1].decode(), fields[0].decode() + "/" + fields[1].decode()):
                    done = True
            if done:
                break
        else:
            print("<TIMEOUT>")
    except socket.timeout:
        print("<TIMEOUT>")
    finally:
        s.close()


def cmd_subscribe_and_drop(args):
    s = connect()
    s.sendall(b"admin.Events+ dom0 name " + args[0].encode() + b"\0")
    s.shutdown(socket.SHUT_WR)
    s.settimeout(2.0)
    first = s.recv(64)
    print(show(first))
    s.close()


def main():
    cmds = {
        "send": cmd_send,
        "batch": cmd_batch,
        "connect-close": cmd_connect_close,
        "half": cmd_half,
        "silent-vs-served": cmd_silent_vs_served,
        "concurrent": cmd_concurrent,
        "events": cmd_events,
        "subscribe-and-drop": cmd_subscribe_and_drop,
    }
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
