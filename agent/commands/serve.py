"""`vma serve`: run the agent API (seed 002) with uvicorn."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

import uvicorn

from agent.api import create_app
from agent.config import AgentConfig

log = logging.getLogger("agent.serve")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the agent API")
    parser.add_argument("--host", help="address to listen on (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int,
                        help="port to listen on (default: server.port, 8081; 0 picks a free port and prints it)")
    parser.set_defaults(func=run)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace, config: AgentConfig) -> int:
    if args.host:
        config.server.host = args.host
    if args.port is not None:
        config.server.port = args.port
    # Bind first so port 0 resolves to a real port we can print before uvicorn takes over.
    sock = bind(config.server.host, config.server.port)
    port = sock.getsockname()[1]
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    print(f"VMA API listening on http://{config.server.host}:{port}", flush=True)
    log.info("agent api starting host=%s port=%d state_dir=%s disk_source=%s",
             config.server.host, port, config.server.state_dir, config.replication.disk_source)
    server.run(sockets=[sock])
    sys.stdout.flush()
    return 0
