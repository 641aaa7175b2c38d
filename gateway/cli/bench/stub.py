"""nginx for the benchmark: the stub upstream (the bank's recorded answer served as a file) and the reverse
proxy that sets the physical limit (docs/performance.md, lines 1 and "The stub upstream").

Both run as ``nginx -p <prefix> -c nginx.conf -g 'daemon off;'`` with one worker, logging off, listening on
127.0.0.1 only. The stub answers the one bank call the gateway makes per request on the measured route (the
AIS pipeline's ``GET /bank/v1/aisp/...``, gateway/backend/bank.py) with the body and content type the real
sandbox bank gave for the same call.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

NGINX = "/usr/sbin/nginx"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (NGINX if Path(NGINX).exists() else None)
    if found is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
    return found


def _common(prefix: Path) -> str:
    # One worker: the server side of each scenario has one CPU (processes.SERVER_CPU).
    return f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  server_tokens off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path {prefix}/client_body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
"""


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """One bank answer: the path it answers, its body and its content type."""

    path: str
    body: bytes
    content_type: str


def stub_config(*, prefix: Path, port: int, answer: Recorded) -> Path:
    """An nginx that answers ``answer.path`` with the recorded body (and /healthz), 404 elsewhere."""
    prefix.mkdir(parents=True, exist_ok=True)
    # nginx started as root serves files as an unprivileged worker user: the directories above ``prefix`` must
    # let it pass (the run's temporary directory is made traversable, not listable: gateway.cli.bench.run).
    prefix.chmod(0o755)
    body = prefix / "answer.json"
    body.write_bytes(answer.body)
    body.chmod(0o644)
    config = prefix / "nginx.conf"
    config.write_text(_common(prefix) + f"""  server {{
    listen 127.0.0.1:{port};
    location = {answer.path} {{
      types {{ }}
      default_type "{answer.content_type}";
      alias {body};
    }}
    location = /healthz {{ return 200 "ok"; }}
    location / {{ return 404; }}
  }}
}}
""")
    return config


def proxy_config(*, prefix: Path, port: int, upstream_port: int) -> Path:
    """An nginx reverse proxy (proxy_pass over a keep-alive upstream pool) to the stub."""
    prefix.mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(_common(prefix) + f"""  upstream stub {{
    server 127.0.0.1:{upstream_port};
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://stub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
    return config


def command(config: Path) -> list[str]:
    return [nginx_binary(), "-p", str(config.parent), "-c", str(config), "-g", "daemon off;"]
