#!/usr/bin/env python3
"""Checks that Deploy/compose.yaml and Deploy/k8s agree with the Dockerfile and the binaries.

  check_deploy.py BIN_DIR

- compose.yaml parses; every service names an image and a healthcheck; every daemon's build target
  exists in the Dockerfile, and every flag in its command is one its binary accepts (from --help);
  its healthcheck probes the admin port its command sets;
- only the gateway publishes a port; only the learning-service shares a network with PostgreSQL,
  and that network is internal; every secret a service uses is declared;
- every Kubernetes Deployment uses an image built by a Dockerfile target, flags its binary accepts,
  probes on its admin port, resources, and a termination grace period longer than its drain.
Exits 1 with one line per problem.
"""
import re
import subprocess
import sys
from pathlib import Path

import yaml

root = Path(__file__).resolve().parents[2]
bin_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else root / ".build/release"
problems = []
DAEMONS = {"gateway": ["serve"], "parser-service": [], "learning-service": []}


def problem(text):
    problems.append(text)


def dockerfile_targets():
    text = (root / "Deploy/docker/Dockerfile").read_text()
    targets = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.M | re.I))
    entrypoints = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.I)
        if match:
            current = match.group(1)
        match = re.match(r'ENTRYPOINT\s+\["([^"]+)"', line)
        if match and current:
            entrypoints[current] = match.group(1)
    return targets, entrypoints


def accepted_flags(binary, subcommand):
    path = bin_dir / binary
    if not path.exists():
        problem(f"{path} does not exist: build the release binaries first")
        return set()
    help_text = subprocess.run([str(path), *subcommand, "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"--[a-z][a-z0-9-]*", help_text))


def check_flags(where, binary, args):
    subcommand = DAEMONS[binary]
    if subcommand and args[: len(subcommand)] != subcommand:
        problem(f"{where}: {binary} should be started with '{' '.join(subcommand)}' first")
    flags = accepted_flags(binary, subcommand)
    for arg in args:
        if arg.startswith("--") and arg.split("=")[0] not in flags:
            problem(f"{where}: {binary} has no flag {arg}")


def flag_value(args, name):
    return args[args.index(name) + 1] if name in args else None


def check_compose(targets, entrypoints):
    compose = yaml.safe_load((root / "Deploy/compose.yaml").read_text())
    services = compose.get("services", {})
    declared_secrets = set(compose.get("secrets", {}))
    networks = compose.get("networks", {})
    for name, service in services.items():
        where = f"compose service {name}"
        if not service.get("image"):
            problem(f"{where}: no image")
        if not service.get("healthcheck", {}).get("test"):
            problem(f"{where}: no healthcheck")
        for secret in service.get("secrets", []):
            if secret not in declared_secrets:
                problem(f"{where}: secret {secret} is not declared")
        if name in DAEMONS:
            target = service.get("build", {}).get("target")
            if target not in targets:
                problem(f"{where}: build target {target} is not in the Dockerfile")
            elif Path(entrypoints.get(target, "")).name != name:
                problem(f"{where}: target {target} runs {entrypoints.get(target)}, not {name}")
            args = service.get("command", [])
            check_flags(where, name, args)
            admin = flag_value(args, "--admin-port")
            probe = " ".join(service.get("healthcheck", {}).get("test", []))
            if admin is None or f"/{admin} " not in probe + " ":
                problem(f"{where}: the healthcheck does not probe the admin port {admin}")
            for key, value in service.get("environment", {}).items():
                if key.endswith("_FILE") and str(value).startswith("/run/secrets/") and Path(value).name not in service.get("secrets", []):
                    problem(f"{where}: {key} points at a secret the service does not mount")
    for name, service in services.items():
        if service.get("ports") and name != "gateway":
            problem(f"compose service {name} publishes a port; only the gateway may")
    database_networks = set(services.get("postgres", {}).get("networks", []))
    for network in database_networks:
        if not networks.get(network, {}).get("internal"):
            problem(f"compose network {network} (PostgreSQL's) is not internal")
        for name, service in services.items():
            if name not in ("postgres", "learning-service") and network in service.get("networks", []):
                problem(f"compose service {name} shares network {network} with PostgreSQL")
    if not services.get("gateway", {}).get("ports"):
        problem("compose: the gateway publishes no port")
    for name in DAEMONS:
        if name not in services:
            problem(f"compose: no service {name}")
    return services


def check_kubernetes(targets):
    built_images = {f"aurora/{target}" for target in targets}
    deployments = {}
    for path in sorted((root / "Deploy/k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "Deployment":
                deployments[document["metadata"]["name"]] = document
            if document and document.get("kind") == "HorizontalPodAutoscaler":
                deployments.setdefault("_hpa", set()).add(document["spec"]["scaleTargetRef"]["name"])
    for name in DAEMONS:
        deployment = deployments.get(name)
        where = f"k8s deployment {name}"
        if deployment is None:
            problem(f"{where}: missing")
            continue
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        image = container["image"].split(":")[0]
        if image not in built_images:
            problem(f"{where}: image {image} is not built by a Dockerfile target")
        args = container.get("args", [])
        check_flags(where, name, args)
        admin = int(flag_value(args, "--admin-port") or 0)
        ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
        if ports.get("admin") != admin:
            problem(f"{where}: the admin containerPort is not the --admin-port {admin}")
        for probe in ("readinessProbe", "livenessProbe"):
            if container.get(probe, {}).get("httpGet", {}).get("port") not in ("admin", admin):
                problem(f"{where}: {probe} is not on the admin port")
        if not container.get("resources", {}).get("requests") or not container.get("resources", {}).get("limits"):
            problem(f"{where}: resource requests and limits are required")
        drain = int(next((e["value"] for e in container.get("env", []) if e["name"] == "AURORA_DRAIN_SECONDS"), 25))
        if spec.get("terminationGracePeriodSeconds", 30) <= drain:
            problem(f"{where}: terminationGracePeriodSeconds must exceed the drain ({drain} s)")
    for name in ("gateway", "parser-service"):
        if name not in deployments.get("_hpa", set()):
            problem(f"k8s: no HorizontalPodAutoscaler for {name}")


targets, entrypoints = dockerfile_targets()
check_compose(targets, entrypoints)
check_kubernetes(targets)
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"compose.yaml and Deploy/k8s agree with the Dockerfile targets {sorted(targets)} and the binaries' flags")
