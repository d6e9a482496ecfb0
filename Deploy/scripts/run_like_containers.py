#!/usr/bin/env python3
"""Runs the three daemons exactly as Deploy/compose.yaml and the Dockerfile start them, then the CLI.

  run_like_containers.py BIN_DIR DATABASE_URL

Each daemon gets its Dockerfile target's ENV, then the compose service's environment, and the
compose command as its arguments. Only what a container runtime provides is substituted: secrets
mounted at /run/secrets/NAME become files in a temporary directory, and service names (Docker's
DNS) become 127.0.0.1. Only the learning-service is given the database (its database_url secret);
the script checks that no other service's environment names it. Then: every compose healthcheck
runs as written, a token is issued with the gateway's own command, and the CLI analyzes the sample,
records feedback and lists rules through the published gateway port. Finally SIGTERM must drain
each daemon and exit 0.
"""
import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

root = Path(__file__).resolve().parents[2]
bin_dir = Path(sys.argv[1])
database_url = sys.argv[2]
compose = yaml.safe_load((root / "Deploy/compose.yaml").read_text())
services = compose["services"]
order = ["learning-service", "parser-service", "gateway"]


def fail(text):
    print(f"FAILED: {text}", file=sys.stderr)
    sys.exit(1)


def dockerfile_env():
    """ENV per Dockerfile stage, with the stages each one is built FROM."""
    env, parents, current = {}, {}, None
    lines = (root / "Deploy/docker/Dockerfile").read_text().replace("\\\n", " ").splitlines()
    for line in lines:
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.I)
        if match:
            current = match.group(2)
            parents[current] = match.group(1)
            env[current] = {}
        match = re.match(r"ENV\s+(.*)", line)
        if match and current:
            env[current].update(dict(re.findall(r"(\w+)=(\S+)", match.group(1))))
    def resolved(stage):
        result = dict(resolved(parents[stage])) if parents.get(stage) in env else {}
        result.update(env.get(stage, {}))
        return result
    return resolved


with tempfile.TemporaryDirectory(prefix="aurora-containers-") as work:
    work = Path(work)
    secret_dir = work / "secrets"
    secret_dir.mkdir()
    # The secrets compose declares, made the way Deploy/docker/make-secrets.sh makes them.
    (secret_dir / "internal_secret").write_text(secrets.token_urlsafe(48))
    (secret_dir / "postgres_password").write_text("unused-here")
    (secret_dir / "database_url").write_text(database_url)
    (secret_dir / "pseudonym_keys").write_text("k1 " + base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    subprocess.run([str(bin_dir / "gateway"), "keys", "generate", "--out", str(secret_dir / "jwks.json"), "--alg", "EdDSA"], check=True,
                   capture_output=True)
    sources = {name: Path(spec["file"]).name for name, spec in compose["secrets"].items()}

    def substitute(value):
        value = str(value)
        for name, file in sources.items():
            value = value.replace(f"/run/secrets/{name}", str(secret_dir / file))
        for service in services:
            value = value.replace(f"{service}:", "127.0.0.1:")
        return value

    env_of = dockerfile_env()
    processes = {}
    try:
        for name in order:
            service = services[name]
            environment = {"PATH": os.environ["PATH"], "HOME": str(work)}
            environment.update(env_of(service["build"]["target"]))
            environment.update({k: substitute(v) for k, v in service.get("environment", {}).items()})
            if name != "learning-service":
                leaked = [k for k, v in environment.items() if "database" in k.lower() or "postgres" in str(v)]
                if leaked:
                    fail(f"{name} is given the database: {leaked}")
            environment["AURORA_READY_FILE"] = str(work / f"{name}.ready")
            args = [substitute(a) for a in service["command"]]
            log = open(work / f"{name}.log", "w")
            processes[name] = (subprocess.Popen([str(bin_dir / name), *args], env=environment, stdout=log, stderr=subprocess.STDOUT), log)
            deadline = time.time() + 60
            while not (work / f"{name}.ready").exists():
                if processes[name][0].poll() is not None or time.time() > deadline:
                    fail(f"{name} did not start: {(work / f'{name}.log').read_text()[-2000:]}")
                time.sleep(0.1)
            print(f"{name}: {' '.join(args)}")

        for name in order:
            test = services[name]["healthcheck"]["test"]
            command = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
            for _ in range(50):
                if subprocess.run(command, capture_output=True).returncode == 0:
                    break
                time.sleep(0.2)
            else:
                fail(f"the compose healthcheck of {name} does not pass: {command}")
        print("compose healthchecks pass")

        gateway_env = {"PATH": os.environ["PATH"], "AURORA_JWT_KEYS_FILE": str(secret_dir / "jwks.json")}
        token = subprocess.run([str(bin_dir / "gateway"), "token", "issue", "--user", "container-check", "--ttl", "10m"],
                               env=gateway_env, capture_output=True, text=True, check=True).stdout.strip()
        published = services["gateway"]["ports"][0].split(":")[0]
        cli_env = {"PATH": os.environ["PATH"], "AURORA_GATEWAY": f"127.0.0.1:{published}", "AURORA_TOKEN": token,
                   "AURORA_CONFIG": str(work / "cli.json")}
        analysis = subprocess.run([str(bin_dir / "aurora"), "analyze", "--json", str(root / "Deploy/samples/customers.csv")],
                                  env=cli_env, capture_output=True, text=True)
        if analysis.returncode != 0:
            fail(f"aurora analyze: {analysis.stderr}")
        result = json.loads(analysis.stdout)
        if result["file"]["rows"] != 400 or len(result["columns"]) != 9:
            fail(f"unexpected analysis: {result['file']}")
        feedback = subprocess.run([str(bin_dir / "aurora"), "feedback", result["analysis_id"], "--correct", "monthly_spend=log_transform",
                                   "--accept", "plan"], env=cli_env, capture_output=True, text=True)
        if feedback.returncode != 0 or "recorded 2" not in feedback.stdout:
            fail(f"aurora feedback: {feedback.stdout} {feedback.stderr}")
        rules = subprocess.run([str(bin_dir / "aurora"), "rules"], env=cli_env, capture_output=True, text=True)
        if rules.returncode != 0:
            fail(f"aurora rules: {rules.stderr}")
        print(f"aurora analyze, feedback and rules work through the published gateway port ({result['analysis_id']})")
    finally:
        for name in reversed(order):
            if name in processes:
                process, log = processes[name]
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        code = process.wait(timeout=40)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        fail(f"{name} did not stop within 40 s of SIGTERM")
                    if code != 0:
                        fail(f"{name} exited {code} after SIGTERM: {(work / f'{name}.log').read_text()[-1500:]}")
                log.close()
    print("all three daemons drained and exited 0 on SIGTERM")
