#!/usr/bin/env python3
"""test_console.py: the cluster console (GET /ui) in a real browser, and the Grafana
dashboard against a live /metrics.

A five-node cluster of build/vesperd-san on 127.0.0.1:UI_PORT.. (default 17850-17854),
known to each other by 127.0.0.1 and advertising http://localhost:PORT to clients (as
the compose cluster does with service names and published ports), the page opened at
a follower's advertised URL; for the token case, three voters and a learner with a
client token (17860-17863).
Headless Chromium (Debian's package) is driven over the DevTools protocol (cdp.py) and
the checks read the page's DOM:
  - endpoints: /ui is one HTML page with a strict CSP; /status has the console's
    fields; CORS answers origins on the nodes' hosts only, GET only, Authorization only;
  - grafana: deploy/grafana/vesper-dashboard.json parses and every metric it uses is
    in a live /metrics;
  - browser, loaded from a follower: five nodes up, exactly one leader (the cluster's),
    request and commit rates above zero under a little write load;
  - kill -9 of the leader: the page names a new leader and shows the old one down;
  - kill -9 of the node the page came from: it keeps updating from the others;
  - token: a 401 makes the page ask for the token; one typed into its form is kept in
    sessionStorage and sent (cross-origin, so through the CORS preflight) to every
    node; a node added as a learner (admin API, with the token) is marked as one.
Screenshots go to UI_ARTIFACTS (default build/ui-artifacts). Without a working Chromium
the browser cases print "skip" with the reason and count as skipped.

Prints "ok NAME" / "FAIL NAME: why" / "skip NAME: why" and "N passed, N failed, N skipped".
Binds TCP ports: run it under `flock /tmp/vesper-ports.lock`.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import cdp  # noqa: E402
from cluster import Cluster, Writer, request  # noqa: E402

VESPERD = os.environ.get("VESPERD", os.path.join(ROOT, "build/vesperd-san"))
PORT0 = int(os.environ.get("UI_PORT", "17850"))
ARTIFACTS = os.environ.get("UI_ARTIFACTS", os.path.join(ROOT, "build/ui-artifacts"))
DASHBOARD = os.path.join(ROOT, "deploy/grafana/vesper-dashboard.json")
TOKEN = "console-test-token"
results = {"passed": 0, "failed": 0, "skipped": 0}


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


def run(name, fn, *args):
    try:
        note = fn(*args)
        print("ok   %s%s" % (name, " (%s)" % note if note else ""))
        results["passed"] += 1
    except Skip as e:
        print("skip %s: %s" % (name, e))
        results["skipped"] += 1
    except (Fail, cdp.CdpError, OSError) as e:
        print("FAIL %s: %s" % (name, e))
        results["failed"] += 1


# ===== without a browser =====

def endpoints(c, lead):
    st, h, body = request(c.port(0), "GET", "/ui")
    check(st == 200 and h.get("content-type", "").startswith("text/html"), "GET /ui: %d %r" %
          (st, h.get("content-type")))
    outside = [u for u in re.findall(rb'https?://[^"\'\s<>]+', body)
               if u != b"http://www.w3.org/2000/svg"]  # the SVG namespace name, not a fetch
    check(b"<script>" in body and not outside, "the page names URLs elsewhere: %r" % outside)
    check("default-src 'none'" in h.get("content-security-policy", ""), "no CSP on /ui")
    check(request(c.port(0), "GET", "/ui/other")[0] == 404, "/ui/other is not 404")
    check(request(c.port(0), "POST", "/ui", "x")[0] == 405, "POST /ui is not 405")
    s = c.status(1)
    for field in ("version", "uptime_ms", "keys", "data_bytes", "client_url", "commit_index"):
        check(s and field in s, "/status lacks %s: %r" % (field, s))
    check(all(m.get("client_url") for m in s["members"]), "members without client_url")
    check(s["client_url"] == c.client_url(1), "client_url %r" % s["client_url"])
    own, other = c.client_url(0), "http://evil.example:5000"
    pre = {"Origin": own, "Access-Control-Request-Method": "GET",
           "Access-Control-Request-Headers": "authorization"}
    st, h, _ = request(c.port(1), "OPTIONS", "/status", headers=pre)
    check(st == 204 and h.get("access-control-allow-origin") == own,
          "preflight from a member: %d %r" % (st, h))
    check(h.get("access-control-allow-methods") == "GET" and
          h.get("access-control-allow-headers", "").lower() == "authorization" and
          "access-control-allow-credentials" not in h, "preflight allows too much: %r" % h)
    st, h, _ = request(c.port(1), "OPTIONS", "/metrics", headers=dict(pre, Origin=other))
    check("access-control-allow-origin" not in h, "preflight from a foreign origin allowed")
    for good in (own, c.url(3), "http://127.0.0.1:17999", "http://LOCALHOST:5000"):
        st, h, _ = request(c.port(2), "GET", "/metrics", headers={"Origin": good})
        check(st == 200 and h.get("access-control-allow-origin") == good,
              "GET /metrics from %s: no CORS" % good)
    for bad in (other, "http://127.0.0.1.evil.example", "http://localhost.evil.example:5000",
                "http://127.0.0.1:17850.evil.example", "http://127.0.0.1:", "null", ""):
        st, h, _ = request(c.port(2), "GET", "/status", headers={"Origin": bad})
        check(st == 200 and "access-control-allow-origin" not in h, "origin %r allowed" % bad)
    st, h, _ = request(c.port(lead), "OPTIONS", "/request", headers=pre)
    check("access-control-allow-origin" not in h, "/request answers CORS")


def metric_names(expr):
    """vesper_* series an expression reads, without histogram suffixes."""
    return set(re.findall(r"\b(vesper_[a-z0-9_]+)", expr))


def grafana(c):
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash.get("panels", []) for t in p.get("targets", [])]
    check(len(exprs) >= 6, "only %d queries in the dashboard" % len(exprs))
    st, _, body = request(c.port(0), "GET", "/metrics")
    live = set(re.findall(r"^(vesper_[a-z0-9_]+)", body.decode(), re.M))
    used = set().union(*(metric_names(e) for e in exprs))
    missing = sorted(n for n in used if n not in live)
    check(not missing, "the dashboard uses metrics /metrics lacks: %s" % missing)
    return "%d panels, %d metrics" % (len(dash["panels"]), len(used))


# ===== in the browser =====

ROWS = "[...document.querySelectorAll('#nodes tbody tr')]"
ROW_STATE = ROWS + ".map(r => r.dataset.id + ':' + r.dataset.up + ':' + r.dataset.role).join(' ')"


def chart(page, name):
    v = page.eval("document.getElementById('chart-%s').dataset.last" % name)
    return float(v) if v else 0.0


def rounds(page):
    return int(page.eval("document.body.dataset.rounds || 0"))


def shot(page, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(os.path.join(ARTIFACTS, name))


def five_nodes_one_leader(page, c, lead):
    want = " ".join("%d:1:%s" % (i, "leader" if i == lead else "follower") for i in range(5))
    got = page.wait_for("(%s) === %r && (%s)" % (ROW_STATE, want, ROW_STATE), 20)
    check(got, "rows: %r, want %r" % (page.eval(ROW_STATE), want))
    urls = ROWS + ".map(r => r.cells[1].textContent).join(' ')"
    want_urls = " ".join(c.client_url(i) for i in range(5))
    check(page.wait_for("(%s) === %r" % (urls, want_urls), 10),
          "the page does not poll the advertised URLs: %r" % page.eval(urls))
    leaders = page.eval(ROWS + ".filter(r => r.dataset.role === 'leader').length")
    check(leaders == 1, "%s leaders shown" % leaders)
    check(page.eval("document.getElementById('summary').dataset.leader") == str(lead),
          "summary names another leader")
    ok = page.wait_for("+document.getElementById('chart-req').dataset.last > 0 && "
                       "+document.getElementById('chart-commit').dataset.last > 0", 15)
    check(ok, "rates do not move: req %s, commit %s" % (chart(page, "req"), chart(page, "commit")))
    shot(page, "console-load.png")
    return "req %.1f/s, commit %.1f/s, request mean %.1f ms, fsync mean %.1f ms" % (
        chart(page, "req"), chart(page, "commit"), chart(page, "req_lat"),
        chart(page, "fsync_lat"))


def leader_killed(page, c, lead):
    t0 = time.monotonic()
    c.kill(lead)
    ok = page.wait_for(
        "(() => { const s = document.getElementById('summary').dataset.leader;"
        " const old = document.querySelector('#nodes tr[data-id=\"%d\"]');"
        " return s !== '' && s !== '%d' && old && old.dataset.up === '0'; })()" % (lead, lead), 15)
    took = time.monotonic() - t0
    check(ok, "after %.1f s: %r, summary %r" % (took, page.eval(ROW_STATE),
                                                  page.eval("document.getElementById('summary')"
                                                            ".textContent")))
    new = int(page.eval("document.getElementById('summary').dataset.leader"))
    check(new == c.leader(timeout_s=5.0, exclude=(lead,)), "page's leader is not the cluster's")
    shot(page, "console-failover.png")
    return "new leader %d shown %.1f s after kill -9" % (new, took)


def origin_killed(page, c, origin):
    c.kill(origin)
    before = rounds(page)
    ok = page.wait_for("(() => { const r = document.querySelector('#nodes tr[data-id=\"%d\"]');"
                       " return r && r.dataset.up === '0'; })()" % origin, 10)
    check(ok, "the page's own node is not shown down: %r" % page.eval(ROW_STATE))
    check(page.wait_for("+document.body.dataset.rounds >= %d" % (before + 4), 15),
          "the page stopped updating at round %d" % rounds(page))
    up = page.eval(ROWS + ".filter(r => r.dataset.up === '1').length")
    check(up == 3, "%s nodes shown up, want 3" % up)
    check(page.wait_for("document.getElementById('summary').dataset.leader !== ''", 10),
          "no leader shown after the page's node died")
    shot(page, "console-origin-down.png")
    return "%d rounds since its node died" % (rounds(page) - before)


def token_form(browser, top):
    """Three voters with a client token, and node 3 started with --join and added as a
    learner through the admin API (with the token)."""
    c = Cluster(VESPERD, top, "token", 4, PORT0 + 10, env={"VESPER_CLIENT_TOKEN": TOKEN})
    three = os.path.join(c.dir, "ip_list3.txt")
    with open(c.ip_list) as f, open(three, "w") as out:
        out.writelines(f.readlines()[:3])
    for i in range(3):
        c.start(i, three)
    c.start(3, extra=("--join",))
    auth = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
    try:
        lead = c.leader()
        check(lead is not None, "no leader in the token cluster")
        add = json.dumps({"op": "add", "id": 3, "url": c.url(3)})
        st, _, body = request(c.port(lead), "POST", "/admin/members", add, auth)
        check(st == 200 and json.loads(body).get("code") == "success",
              "adding learner 3: %d %r" % (st, body))
        page = browser.open(c.url(0) + "/ui")
        check(page.wait_for("!!document.getElementById('token-open') && "
                            "+document.body.dataset.rounds > 0", 15), "page did not load")
        check(page.eval("document.getElementById('token-section').hidden"), "form shown unasked")
        # A node that answers 401 makes the page ask: the page's own read of /request (the
        # one endpoint here that needs the token) goes through its fetch helper.
        err = page.eval("get(location.origin, '/request').then(() => 'ok', e => String(e))")
        check("401" in err, "GET /request without the token: %r" % err)
        check(page.eval("!document.getElementById('token-section').hidden"),
              "no token form after a 401")
        page.eval("document.getElementById('token').value = %r;"
                  "document.getElementById('token-form').requestSubmit()" % TOKEN)
        check(page.eval("sessionStorage.getItem('vesper-client-token')") == TOKEN,
              "token not kept in sessionStorage")
        check(page.eval("document.getElementById('token-section').hidden"), "form still shown")
        ok = page.wait_for(ROWS + ".filter(r => r.dataset.up === '1').length === 4", 15)
        check(ok, "with the token sent, rows: %r" % page.eval(ROW_STATE))
        learner = page.wait_for(
            "!!document.querySelector('#nodes tr[data-id=\"3\"] .badge.learner') && "
            "!!document.querySelector('#members [data-member=\"3\"][data-member-role=\"learner\"]')",
            10)
        check(learner, "node 3 is not marked a learner")
        # The token reached the other nodes: a page fetch with it is a preflighted request.
        got = page.eval("fetch('%s/status', {headers: {Authorization: 'Bearer ' + "
                        "sessionStorage.getItem('vesper-client-token')}}).then(r => r.status)"
                        % c.url(2))
        check(got == 200, "cross-origin fetch with Authorization: %r" % got)
        shot(page, "console-token-learner.png")
    finally:
        bad = c.stop()
        check(not bad and not c.san_reports(), "token cluster: exits %r, sanitizer %r" %
              (bad, c.san_reports()))


def main():
    if not os.access(VESPERD, os.X_OK):
        print("missing %s (make test builds it)" % VESPERD)
        print("0 passed, 1 failed")
        return 1
    top = tempfile.mkdtemp(prefix="vesper-ui.")
    c = Cluster(VESPERD, top, "five", 5, PORT0, advertise_host="localhost")
    browser = None
    writer = None
    print("# console suite: %s, ports %d-%d, data in %s" % (os.path.relpath(VESPERD, ROOT),
                                                           PORT0, PORT0 + 13, top))
    try:
        c.start_all()
        lead = c.leader()
        if lead is None:
            print("FAIL cluster: no leader in 15 s")
            results["failed"] += 1
            return 1
        run("endpoints: /ui, /status fields, CORS for the nodes' hosts only", endpoints, c, lead)
        run("grafana dashboard: valid JSON, every metric live", grafana, c)
        browser = cdp.Browser.start()
        origin = (lead + 1) % 5
        page = browser.open(c.client_url(origin) + "/ui") if browser else None

        def need_browser(fn):
            def wrapped(*args):
                if not browser:
                    raise Skip(cdp.Browser.why)
                return fn(*args)
            return wrapped
        if browser:
            writer = Writer(c)
            writer.start()
        run("browser: five nodes, one leader, rates move", need_browser(five_nodes_one_leader),
            page, c, lead)
        run("browser: kill -9 of the leader shows a new one and the dead node down",
            need_browser(leader_killed), page, c, lead)
        run("browser: the page's own node dies, the page goes on",
            need_browser(origin_killed), page, c, origin)
        if writer:
            writer.stop()
            print("   %d writes acknowledged under the page" % writer.acked)
        run("browser: a 401 asks for the token, sent across origins; a learner marked",
            need_browser(token_form), browser, top)
    finally:
        if writer:
            writer.stop()
        if browser:
            browser.close()
        bad = c.stop()
        reports = c.san_reports()
        if bad or reports:
            print("FAIL nodes: non-zero exits %r, sanitizer reports %r" % (bad, reports))
            for i in range(c.n):
                print("   node %d: %s" % (i, c.log_tail(i)))
            results["failed"] += 1
        if os.environ.get("UI_KEEP") == "1":
            print("# kept %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (results["passed"], results["failed"],
                                                results["skipped"]))
    return 0 if results["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
