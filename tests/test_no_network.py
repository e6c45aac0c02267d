"""No outbound network at run time in the default configuration.

A fresh Python process installs a socket guard before importing anything of ours (connect,
connect_ex, sendto, create_connection and DNS lookups to non-loopback hosts are refused and
recorded), then runs the whole question path: settings from the environment, index open, retrieval,
an answer, the web server (FastAPI + Gradio) on loopback, and calls to the OpenAI-compatible API, the
named Gradio ``/ask`` endpoint and the page itself. The test asserts no attempt to another host was
made, and that the analytics and telemetry switches are off. The environment is cleaned of the
developer's HF_*/GRADIO_*/proxy variables, so the app must switch them off itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.integration  # builds indexes, starts servers or processes

SCRIPT = r'''
import ipaddress, json, os, socket, sys, threading, time, urllib.request

attempts = []

def loopback(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).strip("[]").lower()
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False

def check(kind, address):
    if isinstance(address, tuple) and address and not loopback(address[0]):
        attempts.append(f"{kind} {address[0]}:{address[1] if len(address) > 1 else ''}")
        raise OSError(101, f"network blocked by test: {address}")

real_connect, real_connect_ex, real_sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
real_getaddrinfo, real_create_connection = socket.getaddrinfo, socket.create_connection

def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        check("connect", address)
    return real_connect(self, address)

def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        check("connect_ex", address)
    return real_connect_ex(self, address)

def sendto(self, data, *args):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        check("sendto", args[-1])
    return real_sendto(self, data, *args)

def getaddrinfo(host, *args, **kwargs):
    if not loopback(host):
        attempts.append(f"dns {host}")
        raise socket.gaierror(socket.EAI_NONAME, f"DNS blocked by test: {host}")
    return real_getaddrinfo(host, *args, **kwargs)

def create_connection(address, *args, **kwargs):
    check("create_connection", address)
    return real_create_connection(address, *args, **kwargs)

socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection

# The guard itself works: a connection to a documentation address (TEST-NET-3) is refused and recorded.
try:
    socket.create_connection(("203.0.113.7", 80), timeout=1)
except OSError:
    pass
result = {"guard": attempts[:]}
attempts.clear()
from assistant.config import Settings
from assistant.search.build import open_index
from assistant.answer.assistant import Assistant

settings = Settings.from_env()
index = open_index(settings)
answer = Assistant.from_settings(settings, index=index).ask("融资担保费率是多少？")
result["answer"] = answer.text[:200]
result["telemetry"] = index.vectors.collection._client.get_settings().anonymized_telemetry

import uvicorn
from assistant.web.server import create_server
from assistant.web.service import Service

service = Service(settings, index)
port = int(sys.argv[1])
server = uvicorn.Server(uvicorn.Config(create_server(settings, service), host="127.0.0.1", port=port,
                                       log_level="warning"))
thread = threading.Thread(target=server.run, daemon=True)
thread.start()
base = f"http://127.0.0.1:{port}"
for _ in range(300):
    try:
        urllib.request.urlopen(base + "/", timeout=5).read()
        break
    except OSError:
        time.sleep(0.1)
page = urllib.request.urlopen(base + "/", timeout=10).read().decode()
result["page"] = "政策通" in page
body = json.dumps({"model": "policy-assistant", "messages": [{"role": "user", "content": "创业担保贷款最高额度是多少？"}]})
request = urllib.request.Request(base + "/v1/chat/completions", data=body.encode(), headers={"Content-Type": "application/json"})
result["api"] = json.loads(urllib.request.urlopen(request, timeout=60).read())["choices"][0]["message"]["content"][:200]
request = urllib.request.Request(base + "/gradio_api/call/ask", data=json.dumps({"data": ["延期还本付息"]}).encode(),
                                 headers={"Content-Type": "application/json"})
event_id = json.loads(urllib.request.urlopen(request, timeout=60).read())["event_id"]
result["gradio"] = urllib.request.urlopen(f"{base}/gradio_api/call/ask/{event_id}", timeout=60).read().decode()[:400]
server.should_exit = True
thread.join(timeout=10)
result["env"] = {k: os.environ.get(k) for k in ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "ANONYMIZED_TELEMETRY")}
result["attempts"] = attempts
print("RESULT " + json.dumps(result, ensure_ascii=False))
'''

DEVELOPER_VARIABLES = ("POLICY_", "HF_", "HUGGINGFACE", "TRANSFORMERS_", "GRADIO_", "ANONYMIZED_TELEMETRY",
                       "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def test_question_path_and_web_server_make_no_outbound_connection(seed_settings, tmp_path):
    from tests.support import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith(DEVELOPER_VARIABLES)}
    env.update(PYTHONPATH=str(ROOT), POLICY_CORPUS_DIR=str(seed_settings.corpus_dir),
               POLICY_INDEX_DIR=str(seed_settings.index_dir), POLICY_ENCODER=seed_settings.encoder,
               POLICY_AUTO_BUILD="false",
               POLICY_FEEDBACK_DB=str(tmp_path / "feedback.sqlite3"), HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(free_port())], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert done.returncode == 0 and line, done.stderr[-4000:]
    result = json.loads(line[len("RESULT "):])
    assert result["attempts"] == [], f"outbound connection attempts: {result['attempts']}"
    assert result["guard"] == ["create_connection 203.0.113.7:80"], "the socket guard records attempts"
    assert "不高于1%" in result["answer"] and "300万元" in result["api"] and "linxia-2022-84#8" in result["gradio"]
    assert result["page"]
    assert result["telemetry"] is False, "Chroma's anonymized telemetry is off"
    assert result["env"]["GRADIO_ANALYTICS_ENABLED"] == "False", "the app switches Gradio analytics off itself"
