"""cdp.py: a small driver for headless Chromium over the DevTools protocol.

Chromium runs with --remote-debugging-pipe: commands go in on its fd 3 and answers
and events come out on fd 4, each a JSON message ended by a NUL byte. No port is
bound and nothing beyond the Python standard library is needed. One reader thread
collects the answers; events are dropped (the tests poll the DOM instead).

    b = Browser.start()              # None when Chromium is missing: see Browser.why
    page = b.open("http://...")      # a new tab, attached in flat mode
    page.eval("document.title")      # Runtime.evaluate, the value returned
    page.screenshot("shot.png")
    b.close()
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


class CdpError(Exception):
    pass


def find_chromium():
    env = os.environ.get("CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    def __init__(self, browser, target_id, session_id):
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id

    def send(self, method, params=None, timeout=10.0):
        return self.browser.send(method, params, self.session_id, timeout)

    def eval(self, expression, timeout=10.0):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True}, timeout)
        if "exceptionDetails" in r:
            raise CdpError("evaluate %r: %s" % (expression[:60], r["exceptionDetails"]))
        return r.get("result", {}).get("value")

    def screenshot(self, path):
        r = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def wait_for(self, expression, timeout_s, interval_s=0.1):
        """Polls expression until it is truthy; returns its value, or None at the deadline."""
        deadline = time.monotonic() + timeout_s
        while True:
            v = self.eval(expression)
            if v:
                return v
            if time.monotonic() >= deadline:
                return None
            time.sleep(interval_s)


class Browser:
    why = ""

    def __init__(self, proc, to_browser, from_browser, profile):
        self.proc = proc
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.profile = profile
        self.next_id = 0
        self.answers = {}
        self.cond = threading.Condition()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @classmethod
    def start(cls, width=1400, height=1000):
        """A headless Chromium with a fresh profile, or None (reason in Browser.why)."""
        exe = find_chromium()
        if not exe:
            cls.why = ("CHROMIUM=%s is not executable" % os.environ["CHROMIUM"]
                       if os.environ.get("CHROMIUM") else
                       "no chromium on PATH (make deps installs Debian's chromium)")
            return None
        profile = tempfile.mkdtemp(prefix="vesper-chromium.")
        cmd_r, cmd_w = os.pipe()  # we write commands, Chromium reads fd 3
        out_r, out_w = os.pipe()  # Chromium writes fd 4, we read

        # In the child, after fork: the two ends become fds 3 and 4 (through high
        # numbers first, in case either already is 3 or 4). dup2 clears close-on-exec.
        def child_fds():
            os.dup2(cmd_r, 200)
            os.dup2(out_w, 201)
            os.dup2(200, 3)
            os.dup2(201, 4)
            os.close(200)
            os.close(201)

        args = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                "--remote-debugging-pipe", "--user-data-dir=" + profile,
                "--window-size=%d,%d" % (width, height), "about:blank"]
        err = open(os.path.join(profile, "stderr.log"), "wb")
        try:
            # close_fds=False: the pipes are close-on-exec anyway, and closing would
            # also close fds 3 and 4 made by child_fds.
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, close_fds=False, preexec_fn=child_fds)
        except OSError as e:
            cls.why = "cannot run %s: %s" % (exe, e)
            shutil.rmtree(profile, ignore_errors=True)
            return None
        finally:
            err.close()
            os.close(cmd_r)
            os.close(out_w)
        b = cls(proc, os.fdopen(cmd_w, "wb", buffering=0), os.fdopen(out_r, "rb", buffering=0),
                profile)
        try:
            b.send("Browser.getVersion", timeout=20.0)
        except CdpError as e:
            with open(os.path.join(profile, "stderr.log"), "rb") as f:
                tail = f.read()[-300:].decode("utf-8", "replace").strip()
            cls.why = "chromium did not answer (%s): %s" % (e, tail)
            b.close()
            return None
        return b

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.from_browser.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self.cond:
                        self.answers[msg["id"]] = msg
                        self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, method, params=None, session_id=None, timeout=10.0):
        with self.cond:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session_id:
            msg["sessionId"] = session_id
        try:
            self.to_browser.write(json.dumps(msg).encode() + b"\0")
        except OSError as e:
            raise CdpError("%s: pipe closed (%s)" % (method, e))
        deadline = time.monotonic() + timeout
        with self.cond:
            while mid not in self.answers:
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    raise CdpError("%s: no answer in %.0f s" % (method, timeout))
                self.cond.wait(left)
            ans = self.answers.pop(mid)
        if "error" in ans:
            raise CdpError("%s: %s" % (method, ans["error"]))
        return ans.get("result", {})

    def open(self, url):
        target = self.send("Target.createTarget", {"url": url})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        return Page(self, target, session["sessionId"])

    def close(self):
        try:
            self.send("Browser.close", timeout=5.0)
        except CdpError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.to_browser, self.from_browser):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
