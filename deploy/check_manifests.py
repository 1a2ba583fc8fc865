"""check_manifests.py: parses the container and Kubernetes manifests and checks that they
describe the same cluster (run through deploy/check-manifests.sh; `make check-manifests`).

The node count N is the number of lines of ip_list.txt. Checked:
  - ip_list.txt is exactly `deploy/gen-ip-list.sh N` (generated, never hand-edited);
  - docker-compose.yml has services vesper0..vesper<N-1>, each with its id and the mounted
    ip_list on the command line, host port 500<i> -> 5000, advertised URL
    http://127.0.0.1:500<i>, its own named volume on /data, a /vesperd --probe healthcheck
    on port 5000, a restart policy and a stop grace period;
  - the Dockerfile's vesperd stage exposes 5000, probes port 5000, runs as a numeric uid;
  - deploy/k8s: the StatefulSet has N replicas, Parallel pod management, and is governed by
    a headless Service (publishNotReadyAddresses) of the same name on port 5000; its
    ConfigMap ip_list is `deploy/gen-ip-list.sh --k8s N NAMESPACE`; startup/liveness probes
    hit /health and readiness /ready on the client port; the pod template carries the
    prometheus.io scrape annotations for /metrics on that port; /data is a volumeClaimTemplate;
    a PodDisruptionBudget selects the pods and allows at most one voluntary disruption.
Prints one ok/FAIL line per check and "N passed, N failed"; exit 1 on any failure.
"""
import glob
import os
import re
import subprocess
import sys

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 5000
results = [0, 0]


def check(name, cond, detail=""):
    results[0 if cond else 1] += 1
    print(("ok   " if cond else "FAIL ") + name + ("" if cond or not detail else ": " + detail))


def gen(*args):
    out = subprocess.run([os.path.join(TOP, "deploy", "gen-ip-list.sh"), *map(str, args)],
                         check=True, capture_output=True, text=True)
    return out.stdout


def default_of(value):
    """'${VAR:-default}rest' -> 'defaultrest' (compose interpolation with defaults)."""
    return re.sub(r"\$\{[A-Za-z0-9_]+:?-([^}]*)\}", r"\1", str(value))


def check_compose(n):
    with open(os.path.join(TOP, "docker-compose.yml")) as f:
        comp = yaml.safe_load(f)
    services = comp.get("services", {})
    nodes = sorted((s for s in services if re.fullmatch(r"vesper\d+", s)), key=lambda s: int(s[6:]))
    check("compose has services vesper0..vesper%d" % (n - 1),
          nodes == ["vesper%d" % i for i in range(n)], "found %s" % nodes)
    volumes = comp.get("volumes", {}) or {}
    for i, name in enumerate(nodes):
        s = services[name]
        cmd = [str(c) for c in s.get("command", [])]
        check(name + " command is its id and the ip_list", cmd[:2] == [str(i), "/etc/vesper/ip_list.txt"],
              str(cmd))
        vols = [str(v) for v in s.get("volumes", [])]
        check(name + " mounts ip_list.txt and its own data volume",
              "./ip_list.txt:/etc/vesper/ip_list.txt:ro" in vols and "%s-data:/data" % name in vols
              and "%s-data" % name in volumes, str(vols))
        ports = [default_of(p) for p in s.get("ports", [])]
        check(name + " publishes 127.0.0.1:%d -> %d" % (PORT + i, PORT),
              ports == ["127.0.0.1:%d:%d" % (PORT + i, PORT)], str(ports))
        env = s.get("environment", {}) or {}
        adv = default_of(env.get("VESPER_ADVERTISE_URL", ""))
        check(name + " advertises http://127.0.0.1:%d" % (PORT + i), adv == "http://127.0.0.1:%d" % (PORT + i), adv)
        hc = [str(t) for t in (s.get("healthcheck", {}) or {}).get("test", [])]
        check(name + " healthcheck probes port %d" % PORT,
              hc[:3] == ["CMD", "/vesperd", "--probe"] and hc[3:] == ["http://127.0.0.1:%d" % PORT], str(hc))
        check(name + " has a restart policy and a stop grace period",
              s.get("restart") in ("always", "unless-stopped", "on-failure") and "stop_grace_period" in s)
    itest = services.get("itest", {})
    check("itest service mounts the Docker socket and sits on raft and ctl",
          "/var/run/docker.sock:/var/run/docker.sock" in itest.get("volumes", [])
          and sorted(itest.get("networks", [])) == ["ctl", "raft"])
    check("client service is a profile", services.get("client", {}).get("profiles") == ["client"])


def check_dockerfile():
    with open(os.path.join(TOP, "Dockerfile")) as f:
        text = f.read()
    stage = text.split("FROM scratch AS vesperd", 1)[-1].split("\nFROM ", 1)[0]
    check("Dockerfile vesperd stage exposes %d" % PORT, re.search(r"^EXPOSE %d$" % PORT, stage, re.M) is not None)
    check("Dockerfile HEALTHCHECK probes port %d" % PORT,
          '"/vesperd", "--probe", "http://127.0.0.1:%d"' % PORT in stage)
    check("Dockerfile vesperd runs as a numeric non-root uid",
          re.search(r"^USER ([1-9]\d*):\d+$", stage, re.M) is not None)


def by_kind(docs, kind):
    return [d for d in docs if d and d.get("kind") == kind]


def check_k8s_probes(ctr):
    def probe(kind):
        p = (ctr.get(kind) or {}).get("httpGet") or {}
        return p.get("path"), p.get("port")
    check("k8s startup and liveness probes use /health", probe("startupProbe")[0] == "/health"
          and probe("livenessProbe")[0] == "/health")
    check("k8s readiness probe uses /ready", probe("readinessProbe")[0] == "/ready")
    ports = {p.get("name"): p.get("containerPort") for p in ctr.get("ports", [])}
    check("k8s probes target the client port %d" % PORT,
          all(ports.get(probe(k)[1], probe(k)[1]) == PORT
              for k in ("startupProbe", "livenessProbe", "readinessProbe")), str(ports))


def check_k8s(n):
    docs = []
    for path in sorted(glob.glob(os.path.join(TOP, "deploy", "k8s", "*.yaml"))):
        with open(path) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    sts = by_kind(docs, "StatefulSet")
    check("k8s has one StatefulSet", len(sts) == 1)
    if len(sts) != 1:
        return
    sts = sts[0]
    spec, ns = sts["spec"], sts["metadata"].get("namespace", "default")
    labels = spec["template"]["metadata"]["labels"]
    check("k8s StatefulSet replicas == %d (ip_list.txt lines)" % n, spec.get("replicas") == n,
          str(spec.get("replicas")))
    check("k8s StatefulSet starts pods in Parallel", spec.get("podManagementPolicy") == "Parallel")
    svcs = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == spec.get("serviceName")]
    hl = svcs[0]["spec"] if svcs else {}
    check("k8s headless Service %s governs the StatefulSet" % spec.get("serviceName"),
          hl.get("clusterIP") == "None" and hl.get("publishNotReadyAddresses") is True
          and hl.get("selector") == labels and [p.get("port") for p in hl.get("ports", [])] == [PORT])
    ctr = spec["template"]["spec"]["containers"][0]
    check_k8s_probes(ctr)
    ann = spec["template"]["metadata"].get("annotations") or {}
    check("k8s pods are annotated for Prometheus: /metrics on port %d" % PORT,
          ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(PORT)
          and ann.get("prometheus.io/path") == "/metrics", str(ann))
    mounts = {m["name"]: m["mountPath"] for m in ctr.get("volumeMounts", [])}
    claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])]
    check("k8s /data is a volumeClaimTemplate", any(mounts.get(c) == "/data" for c in claims), str(claims))
    cms = [c for v in spec["template"]["spec"].get("volumes", []) if "configMap" in v
           and mounts.get(v["name"]) == "/etc/vesper" for c in by_kind(docs, "ConfigMap")
           if c["metadata"]["name"] == v["configMap"]["name"]]
    want = gen("--k8s", n, ns)
    check("k8s ConfigMap ip_list is gen-ip-list.sh --k8s %d %s" % (n, ns),
          len(cms) == 1 and cms[0]["data"].get("ip_list.txt") == want)
    check("k8s args pass the pod index and the mounted ip_list",
          ctr.get("args") == ["$(POD_INDEX)", "/etc/vesper/ip_list.txt"], str(ctr.get("args")))
    pdbs = by_kind(docs, "PodDisruptionBudget")
    check("k8s PodDisruptionBudget selects the pods, maxUnavailable 1",
          len(pdbs) == 1 and pdbs[0]["spec"].get("selector", {}).get("matchLabels") == labels
          and pdbs[0]["spec"].get("maxUnavailable") == 1)


def main():
    with open(os.path.join(TOP, "ip_list.txt")) as f:
        ip_list = f.read()
    n = len(ip_list.splitlines())
    check("ip_list.txt is deploy/gen-ip-list.sh %d" % n, ip_list == gen(n))
    check_compose(n)
    check_dockerfile()
    check_k8s(n)
    print("%d passed, %d failed" % tuple(results))
    return 1 if results[1] else 0


if __name__ == "__main__":
    sys.exit(main())
