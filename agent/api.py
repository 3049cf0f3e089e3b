"""The agent's HTTP API (seed 002): FastAPI app factory and its error rendering.

Endpoints that do not talk to vCenter only read in-memory state, so they answer in well under
100 ms; vCenter-bound endpoints are plain `def` handlers so FastAPI runs them in its thread pool
and a slow vCenter never blocks /health.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent import __version__, operations
from agent.config import AgentConfig
from agent.errors import AgentError, InvalidRequest
from agent.jobs import JobRegistry, utc_now
from agent.models import (
    CleanupRequest,
    ConfigUpdate,
    DiscoverRequest,
    PowerOffRequest,
    PowerOnRequest,
    ReplicateRequest,
    TargetSpec,
    valid_job_id,
)
from agent.replication import ReplicationManager

log = logging.getLogger("agent.api")


@dataclass
class AgentState:
    config: AgentConfig
    registry: JobRegistry
    replication: ReplicationManager
    started: float = field(default_factory=time.monotonic)
    # Seed 002's PUT /config values (NBD port, export name, target device), last write wins.
    runtime_config: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def go_duration(seconds: float) -> str:
    """Uptime in Go's time.Duration notation ("1h2m3.5s"), as seed 002's health answer shows."""
    if seconds < 1e-6:
        return f"{int(seconds * 1e9)}ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{int(minutes)}m{text}"
    return text


def error_body(message: str, code: str) -> dict[str, str]:
    return {"error": message, "code": code, "timestamp": utc_now()}


def _validation_message(exc: RequestValidationError) -> str:
    # Only locations and messages: pydantic's "input" could echo a password back.
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def _check_job_id(job_id: str) -> None:
    if not valid_job_id(job_id):
        raise InvalidRequest("Invalid job_id format")


def create_app(config: AgentConfig, *, registry: JobRegistry | None = None,
               replication: ReplicationManager | None = None) -> FastAPI:
    registry = registry or JobRegistry()
    replication = replication or ReplicationManager(config, registry)
    state = AgentState(config=config, registry=registry, replication=replication)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # On shutdown running jobs are cancelled so each removes its snapshot before we exit.
        replication.shutdown(config.replication.cancel_wait)

    app = FastAPI(title="VMA API", version=__version__, docs_url="/api/v1/docs",
                  openapi_url="/api/v1/openapi.json", redoc_url=None, lifespan=lifespan)
    app.state.agent = state

    @app.exception_handler(AgentError)
    async def _agent_error(request: Request, exc: AgentError) -> JSONResponse:
        if exc.http_status >= 500:
            log.warning("request failed path=%s code=%s error=%s", request.url.path, exc.code, exc.message)
        return JSONResponse(error_body(exc.message, exc.code), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_validation_message(exc), "INVALID_REQUEST"), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(error_body(str(exc.detail), code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error path=%s", request.url.path)
        return JSONResponse(error_body(f"internal error: {type(exc).__name__}", "INTERNAL_ERROR"),
                            status_code=500)

    @app.get("/api/v1/health")
    async def health() -> dict[str, Any]:
        uptime = time.monotonic() - state.started
        active = sum(1 for job in registry.all() if job.status in ("pending", "running"))
        from agent.tunnel import tunnel_status

        return {"status": "healthy", "timestamp": utc_now(), "uptime": go_duration(uptime),
                "uptime_seconds": round(uptime, 3), "version": __version__, "active_jobs": active,
                "tunnel": tunnel_status(config.server.state_dir)}

    @app.post("/api/v1/discover")
    def discover(body: DiscoverRequest) -> dict[str, Any]:
        return operations.discover(body, config)

    @app.get("/api/v1/status/{job_id}")
    async def status(job_id: str) -> dict[str, Any]:
        _check_job_id(job_id)
        return registry.get(job_id).status_view()

    @app.get("/api/v1/progress/{job_id}")
    async def progress(job_id: str) -> dict[str, Any]:
        _check_job_id(job_id)
        return registry.get(job_id).progress()

    @app.put("/api/v1/config")
    async def update_config(body: ConfigUpdate) -> dict[str, Any]:
        with state.lock:
            state.runtime_config.update(body.model_dump(exclude_none=True))
            current = dict(state.runtime_config)
        log.info("runtime config updated keys=%s", ",".join(sorted(body.model_dump(exclude_none=True))))
        return {"status": "updated", "config": current}

    @app.post("/api/v1/cleanup")
    def cleanup(body: CleanupRequest) -> Any:
        try:
            return operations.cleanup(body, config, registry)
        except AgentError as exc:
            # Seed 002's cleanup error names the job, the action and status "error" with a message; the common
            # error keys stay beside them for clients that read those.
            log.info("cleanup refused job_id=%s action=%s code=%s", body.job_id, body.action, exc.code)
            return JSONResponse({"job_id": body.job_id, "action": body.action, "status": "error",
                                 "message": exc.message, **error_body(exc.message, exc.code)},
                                status_code=exc.http_status)

    @app.post("/api/v1/power-off")
    def power_off(body: PowerOffRequest) -> dict[str, Any]:
        return operations.power_off(body, config)

    @app.post("/api/v1/power-on")
    def power_on(body: PowerOnRequest) -> dict[str, Any]:
        return operations.power_on(body, config)

    def configured_export() -> TargetSpec:
        """The NBD export PUT /api/v1/config named, for a replicate body without disk targets (seed 002's)."""
        with state.lock:
            port, export = state.runtime_config.get("nbd_port"), state.runtime_config.get("export_name")
        if not port:
            raise InvalidRequest("disks: the request names no disk targets and no NBD export is configured "
                                 "(PUT /api/v1/config with nbd_port and export_name, or give disks[].target)")
        return TargetSpec(host=config.replication.nbd_target_host, port=port, export_name=export or "")

    @app.post("/api/v1/replicate")
    async def replicate(body: ReplicateRequest) -> dict[str, Any]:
        job = replication.start(body, default_target=None if body.disks else configured_export())
        return {"job_id": job.job_id, "status": "started", "vm_count": 1, "started_at": job.created_at}

    return app
