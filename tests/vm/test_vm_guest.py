#!/usr/bin/env python3
"""test_vm_guest.py BUILD: the guest side of vm qubes, booted by QEMU as the
vm driver runs it (build/guest-vm: the kernel, the initramfs, vm-boot), no
qubesd: a minimal template's root (snapshot=on, as an AppVM's), a private
disk whose /rw/config/rc.local probes the qube from inside, the qubesdb port
joined to a dom0 qubesdb-daemon. Checks qubes-init runs as PID 1 on the
template's root with /rw the private disk and the guest programs read-only,
that the ACPI power button (QMP system_powerdown) shuts it down and QEMU ends
with status 0, that the template's image is unchanged and the private one
kept the qube's write, clean; that a VM without its root disk says so and
ends. Prints boot figures against a bare `qemu -kernel` boot to a trivial
init, in the same run. TAP on stdout."""
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
RUNS = 5  # boots per figure (medians: the machine is shared, TCG is slow)

n_tests = 0
failed = 0


def ok(cond, name, diag=""):
    global n_tests, failed
    n_tests += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n_tests, name), flush=True)
    if not cond:
        failed += 1
        for line in str(diag).splitlines()[-60:]:
            print("    " + line)


def note(text):
    print("# " + text, flush=True)


def host_tsc_khz():
    """Under TCG the guest's TSC is the host's: its rate, which the guest
    kernel cannot measure reliably (microvm's ACPI leaves it no PIT), goes on
    its command line. /proc/cpuinfo's figure is the TSC's on hosts with
    constant_tsc."""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    raise RuntimeError("no cpu MHz in /proc/cpuinfo")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def qdb_write(sock, path, value):
    """One WRITE in the qubesdb client protocol (72-byte header), answered."""
    sock.sendall(struct.pack("<B64s3xI", 1, path.encode(), len(value)) + value.encode())
    hdr = b""
    while len(hdr) < 72:
        chunk = sock.recv(72 - len(hdr))
        if not chunk:
            raise RuntimeError("qubesdb-daemon closed its control socket")
        hdr += chunk
    typ, _, length = struct.unpack("<B64s3xI", hdr)
    if length:
        sock.recv(length)
    if typ != 7:  # QDB_RESP_OK
        raise RuntimeError("qubesdb-daemon answered type %d to a write" % typ)


class Vm:
    """One QEMU, with the vm driver's command line (see src/drivers/vm)."""

    def __init__(self, work, build, name, kernel, initrd, append="", disks=(), ports=True,
                 qubesdb_keys=None):
        self.log = os.path.join(work, "%s.log" % name)
        self.qmp_path = os.path.join(work, "%s.qmp" % name)
        for p in (self.log, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        self.keep = []
        self.qubesdb = None
        argv = ["qemu-system-x86_64", "-machine", "microvm", "-accel", "tcg", "-cpu", "max",
                "-m", "256", "-smp", "1", "-nodefaults", "-no-user-config", "-nographic",
                "-no-reboot", "-kernel", kernel, "-initrd", initrd,
                "-append", "console=ttyS0 quiet panic=-1 tsc_early_khz=%d qubes.name=%s %s"
                % (host_tsc_khz(), name, append),
                "-serial", "file:" + self.log,
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        for serial, path, snapshot in disks:
            argv += ["-drive", "if=none,id=%s,file=%s,format=raw%s"
                     % (serial, path, ",snapshot=on" if snapshot else ""),
                     "-device", "virtio-blk-device,drive=%s,serial=%s" % (serial, serial)]
        fds = []
        if ports:
            qrexec_dom0, qrexec_vm = socket.socketpair()
            qdb_dom0, qdb_vm = socket.socketpair()
            ctl_ours, ctl_daemon = socket.socketpair()
            self.keep += [qrexec_dom0, qrexec_vm, qdb_vm, ctl_ours]
            env = dict(os.environ, QUBES_ROOT=work)
            self.qubesdb = subprocess.Popen(
                [os.path.join(build, "bin", "qubesdb-daemon"), "--qube", name,
                 "--channel-fd", str(qdb_dom0.fileno()),
                 "--control-fd", str(ctl_daemon.fileno()), "--no-socket"],
                pass_fds=[qdb_dom0.fileno(), ctl_daemon.fileno()], env=env,
                stdout=subprocess.DEVNULL, stderr=open(self.log + ".qubesdb", "w"))
            qdb_dom0.close()
            ctl_daemon.close()
            for k, v in (qubesdb_keys or {}).items():
                qdb_write(ctl_ours, k, v)
            argv += ["-device", "virtio-serial-device",
                     "-chardev", "socket,id=qrexec,fd=%d" % qrexec_vm.fileno(),
                     "-device", "virtserialport,chardev=qrexec,name=org.qubes.qrexec",
                     "-chardev", "socket,id=qubesdb,fd=%d" % qdb_vm.fileno(),
                     "-device", "virtserialport,chardev=qubesdb,name=org.qubes.qubesdb"]
            fds = [qrexec_vm.fileno(), qdb_vm.fileno()]
        self.start = time.monotonic()
        self.qemu = subprocess.Popen(argv, pass_fds=fds, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log + ".qemu", "w"))

    def text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for(self, marker, timeout=60):
        """Seconds from QEMU's start to marker in the console, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.text():
                return time.monotonic() - self.start
            if self.qemu.poll() is not None:
                return time.monotonic() - self.start if marker in self.text() else None
            time.sleep(0.005)
        return None

    def qmp(self, command):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.qmp_path)
        f = s.makefile("rw")
        f.readline()
        for cmd in ("qmp_capabilities", command):
            f.write(json.dumps({"execute": cmd}) + "\n")
            f.flush()
            f.readline()
        s.close()

    def wait_exit(self, timeout=60):
        try:
            return self.qemu.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.qemu.poll() is None:
            self.qemu.kill()
            self.qemu.wait()
        if self.qubesdb:
            try:
                self.qubesdb.wait(5)
            except subprocess.TimeoutExpired:
                self.qubesdb.kill()
                self.qubesdb.wait()
        for s in self.keep:
            s.close()


RC_LOCAL = r"""#!/bin/sh
echo "probe: pid1=$(tr '\0' ' ' </proc/1/cmdline)"
echo "probe: os=$(. /etc/os-release; echo $ID)"
echo "probe: hostname=$(hostname)"
grep -E '^[^ ]+ (/|/rw|/home|/run/qubes-guest) ' /proc/mounts | sed 's/^/probe: mount /'
if touch /run/qubes-guest/probe 2>/dev/null; then echo "probe: guest dir writable"; \
else echo "probe: guest dir read-only"; fi
echo written >/vm-probe-root && echo "probe: root written"
echo persisted >/rw/vm-probe-private && echo "probe: private written"
echo "probe: qubesdb=$(qubesdb-read /vm-test)"
echo "probe: done"
"""


def mounts(log):
    """{mount point: (source, fstype, options)} as the probe printed them."""
    out = {}
    for line in log.splitlines():
        if line.startswith("probe: mount "):
            f = line.split()
            if len(f) >= 6:
                out[f[3]] = (f[2], f[4], f[5].split(","))
    return out


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    kernel = os.path.join(build, "guest-vm", "vmlinuz")
    initrd = os.path.join(build, "guest-vm", "initramfs.img")
    for p in (kernel, initrd):
        if not os.path.exists(p):
            print("1..0 # SKIP %s not built" % p)
            return 0
    if not shutil.which("qemu-system-x86_64"):
        print("1..0 # SKIP no qemu-system-x86_64")
        return 0
    work = tempfile.mkdtemp(prefix="vm-guest-")
    try:
        run(build, work, kernel, initrd)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("1..%d" % n_tests)
    return 1 if failed else 0


def run(build, work, kernel, initrd):
    tree = os.path.join(work, "template")
    subprocess.run(["sh", os.path.join(TOP, "templates/minimal/build.sh"), tree], check=True,
                   stdout=subprocess.DEVNULL)
    root = os.path.join(work, "root.img")
    with open(root, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", tree, root], check=True)
    private_tree = os.path.join(work, "private")
    os.makedirs(os.path.join(private_tree, "config"))
    rc = os.path.join(private_tree, "config", "rc.local")
    with open(rc, "w") as f:
        f.write(RC_LOCAL)
    os.chmod(rc, 0o755)
    private = os.path.join(work, "private.img")
    with open(private, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", private_tree, private], check=True)
    root_before = sha256(root)

    # -- a qube booted, probed from inside, shut down by the power button
    vm = Vm(work, build, "work", kernel, initrd,
            disks=[("qubes-root", root, True), ("qubes-private", private, False)],
            qubesdb_keys={"/name": "work", "/vm-test": "hello-from-dom0"})
    try:
        t_init = vm.wait_for("qubes-init: starting qube")
        t_probe = vm.wait_for("probe: done", 60)
        log = vm.text()
        ok(t_init is not None, "qubes-init starts", log)
        ok("probe: pid1=qubes-init --vm" in log, "qubes-init is PID 1, told it runs in a VM", log)
        ok(t_probe is not None, "rc.local from the private disk runs", log)
        m = mounts(log)
        ok("probe: os=qubicle-minimal" in log and m.get("/", ("", "", ""))[1] == "ext4"
           and "rw" in m["/"][2], "/ is the template's root, ext4 read-write", log)
        ok(m.get("/rw", ("", "", ""))[1] == "ext4" and m["/rw"][0] != m["/"][0]
           and "nosuid" in m["/rw"][2] and "nodev" in m["/rw"][2],
           "/rw is the private disk (nosuid, nodev)", log)
        ok("/home" in m, "/home is mounted (from /rw/home)", log)
        g = m.get("/run/qubes-guest", ("", "", ""))
        ok("ro" in g[2] and "probe: guest dir read-only" in log,
           "/run/qubes-guest is read-only", log)
        ok("probe: root written" in log and "probe: private written" in log,
           "the qube writes to / and /rw", log)
        ok("qubes-init: qubesdb: synced with dom0" in log
           and "probe: qubesdb=hello-from-dom0" in log,
           "qubesdb over its virtio-serial port: dom0's entries read in the qube", log)
        ok("probe: hostname=work" in log, "the hostname is the qube's name", log)
        t_down = time.monotonic()
        vm.qmp("system_powerdown")
        status = vm.wait_exit(30)
        t_off = time.monotonic() - t_down
        log = vm.text()
        ok(status == 0, "system_powerdown: qubes-init shuts down, QEMU exits 0 (status %s)"
           % status, log)
        ok("qubes-init: shutting down" in log and "qubes-init: powering off" in log,
           "shutdown went through qubes-init", log)
        note("boot to qubes-init %.2f s, to rc.local done %.2f s, power button to QEMU's end "
             "%.2f s" % (t_init or -1, t_probe or -1, t_off))
    finally:
        vm.close()
    ok(sha256(root) == root_before, "the template's root (snapshot=on) is unchanged")
    cat = subprocess.run(["debugfs", "-R", "cat /vm-probe-private", private],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ok(cat.stdout.strip() == "persisted", "the private disk kept the qube's write",
       cat.stdout)
    state = subprocess.run(["dumpe2fs", "-h", private], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True).stdout
    ok("Filesystem state:         clean" in state and "needs_recovery" not in state,
       "the private disk was left clean (remounted read-only before power off)", state)

    # -- fail closed: no root disk
    vm = Vm(work, build, "noroot", kernel, initrd)
    try:
        status = vm.wait_exit(60)
        log = vm.text()
        ok(status == 0 and "vm-boot: no disk with serial qubes-root: powering off" in log,
           "no root disk: vm-boot says so and powers off (status %s)" % status, log)
    finally:
        vm.close()

    # -- figures: boot to qubes-init against a bare boot to a trivial init
    bare = os.path.join(work, "bare")
    for d in ("dev", "proc"):
        os.makedirs(os.path.join(bare, d))
    shutil.copy(os.path.join(build, "tests", "vm", "trivial-init"), os.path.join(bare, "init"))
    bare_img = os.path.join(work, "bare.img")
    with open(bare_img, "wb") as out:
        subprocess.run("find . | cpio -o -H newc -R 0:0 --quiet", shell=True, cwd=bare,
                       stdout=out, stderr=subprocess.DEVNULL, check=True)
    times = {"bare": [], "qube": []}
    statuses = []
    for _ in range(RUNS):
        vm = Vm(work, build, "bare", kernel, bare_img, ports=False)
        try:
            times["bare"].append(vm.wait_for("trivial-init: running"))
            vm.wait_exit(30)
        finally:
            vm.close()
        vm = Vm(work, build, "work", kernel, initrd,
                disks=[("qubes-root", root, True), ("qubes-private", private, True)],
                qubesdb_keys={"/name": "work"})
        try:
            times["qube"].append(vm.wait_for("qubes-init: starting qube"))
            vm.qmp("system_powerdown")
            statuses.append(vm.wait_exit(30))
        finally:
            vm.close()
    ok(statuses == [0] * RUNS, "the power button, pressed as soon as qubes-init starts, "
       "ends every boot (statuses %s)" % statuses)
    b, q = median(times["bare"]), median(times["qube"])
    ok(b is not None and q is not None, "figures measured", json.dumps(times))
    if b and q:
        note("QEMU start to init, medians of %d (TCG, load %.1f): bare kernel + trivial init "
             "%.2f s; vm-boot to qubes-init %.2f s (%.2fx); initramfs %.1f MiB"
             % (RUNS, os.getloadavg()[0], b, q, q / b, os.path.getsize(initrd) / 2**20))
        note("all boots (s): " + json.dumps({k: [round(x, 2) for x in v if x is not None]
                                              for k, v in times.items()}))


if __name__ == "__main__":
    sys.exit(main())
