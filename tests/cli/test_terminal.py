#!/usr/bin/env python3
"""`cryptogen generate` on terminals and pipes: the generated text survives
the status line, which is drawn only on a terminal, never reaches a pipe or
a file, never wraps, and is erased at the end and on Ctrl-C.

A small screen model (carriage return, newline with scrolling, erase-line,
automatic wrap) renders what a terminal would show; the cursor starts on the
bottom row, where scrolling is most likely to garble text.
Usage: test_terminal.py PATH/TO/cryptogen MODEL_DIR"""
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

BIN, MODEL = sys.argv[1], sys.argv[2]
SHAPE = ["--random", "2,2,32,300,64", "--seed", "3"]
PROMPT = ["--prompt-ids", "5,6,7"]
COLS, ROWS = 40, 24
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


class Screen:
    def __init__(self, cols, rows):
        self.cols, self.rows = cols, rows
        self.lines = [[" "] * cols for _ in range(rows)]
        self.r, self.c = rows - 1, 0  # start on the bottom row

    def newline(self):
        if self.r == self.rows - 1:
            self.lines.pop(0)
            self.lines.append([" "] * self.cols)
        else:
            self.r += 1

    def feed(self, data):
        i = 0
        while i < len(data):
            ch = data[i]
            if ch == "\x1b":
                m = re.match(r"\x1b\[([0-9;]*)([A-Za-z])", data[i:])
                if m and m.group(2) == "K":
                    for k in range(self.c, self.cols):
                        self.lines[self.r][k] = " "
                elif not m:
                    raise AssertionError("unexpected escape %r" % data[i:i + 8])
                i += len(m.group(0))
                continue
            if ch == "\r":
                self.c = 0
            elif ch == "\n":
                self.c = 0  # the pty turns \n into \r\n
                self.newline()
            else:
                if self.c == self.cols:
                    self.c = 0
                    self.newline()
                self.lines[self.r][self.c] = ch
                self.c += 1
            i += 1

    def text(self):
        return "\n".join("".join(l).rstrip() for l in self.lines)


CERT_DIR = tempfile.mkdtemp()
PIN = subprocess.run([BIN, "tls-cert", "--out", CERT_DIR], capture_output=True, text=True, check=True).stdout.strip()


def start_server():
    log = tempfile.NamedTemporaryFile("w+", delete=False)
    p = subprocess.Popen([BIN, "serve", "--model", MODEL, *SHAPE, "--listen", "127.0.0.1:0",
                          "--max-sessions", "4", "--timeout", "30",
                          "--tls-cert", os.path.join(CERT_DIR, "cert.pem"), "--tls-key", os.path.join(CERT_DIR, "key.pem")],
                         stderr=log, stdout=subprocess.DEVNULL)
    for _ in range(300):
        m = re.search(r" on port (\d+) ", open(log.name).read())
        if m:
            return p, m.group(1)
        time.sleep(0.1)
    p.kill()
    raise SystemExit("server did not start: " + open(log.name).read())


def expected_text():
    out = subprocess.run([BIN, "generate", "--local-fixed", "--model", MODEL, *SHAPE, *PROMPT, "-n", "6"],
                         capture_output=True, text=True, check=True).stdout
    return out.rstrip("\n")


def run_pty(args, stdout_file=None, interrupt_after=None):
    """Runs args with stderr (and stdout unless stdout_file) on a pty of COLS x ROWS; returns what the
    terminal received and the exit status."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    out = open(stdout_file, "wb") if stdout_file else slave
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=slave, close_fds=True)
    os.close(slave)
    if stdout_file:
        out.close()
    data, t0, sent = b"", time.time(), False
    while True:
        if interrupt_after and not sent and time.time() - t0 > interrupt_after:
            p.send_signal(signal.SIGINT)
            sent = True
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            data += chunk
        elif p.poll() is not None:
            break
    p.wait()
    os.close(master)
    return data.decode("utf-8", "replace"), p.returncode


server, port = start_server()
try:
    want = expected_text()
    gen = [BIN, "generate", "--connect", "127.0.0.1:" + port, "--tls-pin", PIN, "--model", MODEL, *PROMPT, "-n", "6"]

    # 1. Text and status on one terminal, cursor on the bottom row: the text is intact on screen.
    raw, rc = run_pty(gen)
    check(rc == 0, "shared terminal: exit %d" % rc)
    scr = Screen(COLS, ROWS)
    scr.feed(raw.replace("\r\n", "\n"))
    flat = scr.text().replace("\n", "")
    check(want.replace("\n", "") in flat,
          "shared terminal: the text %r is not intact on the screen:\n%s" % (want, scr.text()))
    tail = raw[raw.find(want[:8]):] if want[:8] in raw else ""
    body = tail[:len(want) + 4]
    check("\x1b" not in body, "shared terminal: an escape code inside the streamed text: %r" % body)

    # 2. Text to a file (| tee, > out.txt), status on the terminal: the file holds only the text,
    #    the status line stays on its own line and is erased at the end.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.txt")
        raw, rc = run_pty(gen, stdout_file=path)
        text = open(path).read()
        check(rc == 0, "stdout to a file: exit %d" % rc)
        check(text.rstrip("\n") == want, "stdout to a file: %r != %r" % (text, want))
        check("\x1b" not in text, "stdout to a file: escape codes in the text")
        check("tokens," in raw, "stdout to a file: no status line on the terminal")
        drawn = re.findall(r"\x1b\[K([^\r\n\x1b]*)", raw)
        drawn = [l for l in drawn if l.startswith("[")]
        wide = [l for l in drawn if len(l) >= COLS]
        check(drawn and not wide, "status lines wider than the terminal: %r" % wide)
        scr = Screen(COLS, ROWS)
        scr.feed(raw.replace("\r\n", "\n"))
        # the status lines' forms ("[prefill: ...", "[N tokens, ..."): the
        # summary says "prefill:" too, unbracketed
        check("tokens," not in scr.text() and "[prefill" not in scr.text(),
              "a status line is left on the screen at the end:\n" + scr.text())

    # 3. Pipes only: no escape code anywhere.
    p = subprocess.run(gen, capture_output=True, text=True)
    check(p.returncode == 0, "pipes: exit %d" % p.returncode)
    check("\x1b" not in p.stdout + p.stderr, "pipes: escape codes written to a pipe")
    check(p.stdout.rstrip("\n") == want, "pipes: text %r != %r" % (p.stdout, want))

    # 4. Ctrl-C while the status line is up: it is erased, and the client dies of the signal.
    with tempfile.TemporaryDirectory() as d:
        longer = gen[:-1] + ["40"]
        raw, rc = run_pty(longer, stdout_file=os.path.join(d, "out.txt"), interrupt_after=4)
        check(rc == -signal.SIGINT, "Ctrl-C: exit %r, not death by SIGINT" % rc)
        scr = Screen(COLS, ROWS)
        scr.feed(raw.replace("\r\n", "\n"))
        check("[" not in scr.text(), "Ctrl-C left a status line:\n" + scr.text())
finally:
    server.kill()
    server.wait()

if failures:
    print("%d failures" % len(failures))
    sys.exit(1)
print("terminal: text intact on a shared terminal, status only on terminals, erased at the end and on Ctrl-C")
