"""The HTTP face: /client/api as CloudStack answers it, /lab/* for the tests' side channel."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Imported for their @command registrations.
from lab.cloudstack import commands_account, commands_compute, commands_storage, events, hypervisor, stats, tenancy  # noqa: F401
from lab.cloudstack.errors import AUTH_TEXT, PARAM_ERROR, UNAUTHORIZED, ApiError, internal
from lab.cloudstack.jobs import Injection, Injections, JobRunner
from lab.cloudstack.registry import COMMANDS, CREATE, SYNC, Params
from lab.cloudstack.signing import auth_fields, parse_expires, signature_matches
from lab.cloudstack.state import LabOptions, LabState

log = logging.getLogger("lab.cloudstack")

API_PATH = "/client/api"
RESET = object()  # answer: drop the connection without a response
_UI_PAGE = (b"<!DOCTYPE html><html><head><title>Apache CloudStack</title></head>"
            b"<body><div id=\"app\">Apache CloudStack (lab emulator UI placeholder)</div></body></html>")


class Lab:
    """One emulated management server: state, job runner and injections."""

    def __init__(self, options: LabOptions):
        self.state = LabState(options)
        self.jobs = JobRunner(self.state)
        self.injections = Injections()
        self.state.save()

    def _authenticate(self, params: dict[str, str]) -> str | None:
        """The caller's role (the account its API key belongs to), None when the request is not authentic."""
        # ApiServer.verifyRequest finds these four whatever their case: a lower-case `signatureversion=3`
        # still makes `expires` checked.
        auth = auth_fields(params)
        account = self.state.account_for(auth.get("apikey"))
        if account is None or "signature" not in auth:
            return None
        if auth.get("signatureversion") == "3":
            expires = parse_expires(auth.get("expires", ""))
            if expires is None or expires < datetime.now(UTC):
                return None
        role, secret_key = account
        return role if signature_matches(params, secret_key) else None

    def handle(self, params: dict[str, str]):
        """Returns (HTTP status, JSON body) or RESET."""
        # `command` itself is read with its exact name and its value looked up case-sensitively.
        name = params.get("command", "")
        cmd = COMMANDS.get(name)
        if cmd is None:
            # verifyRequest consults the command table before the key, so an unknown command is the
            # same 401 as a bad signature, under `errorresponse` as no command class names the answer.
            return UNAUTHORIZED, {"errorresponse": ApiError(UNAUTHORIZED, AUTH_TEXT).body()}
        key = f"{name.lower()}response"
        role = self._authenticate(params)
        if role is None:
            return UNAUTHORIZED, {key: ApiError(UNAUTHORIZED, AUTH_TEXT).body()}
        if params.get("response", "").lower() != "json":
            error = ApiError(PARAM_ERROR, "This emulator answers in JSON only: pass response=json")
            return error.errorcode, {key: error.body()}
        injection = self.injections.take(cmd.name)
        if injection is not None and injection.reset:
            return RESET
        try:
            # Async commands take their injection into the job instead.
            if cmd.kind == SYNC and injection is not None:
                time.sleep(injection.delay)
                if injection.fail:
                    raise ApiError(injection.errorcode, injection.errortext)
            with self.state.lock:
                self.state.caller = role
                request = Params(params, name)
                if cmd.is_list:
                    request.page_window()  # the dispatch chain refuses bad paging before the command runs
                result = cmd.handler(self.state, request)
                if cmd.kind != SYNC:
                    ctx = events.context(self.state, cmd.name, result.instance_id or request.get("id"), request)
                    job = self.jobs.submit(cmd.name, cmd.java_class, result, injection, ctx)
                    body = {"jobid": job["jobid"]}
                    if cmd.kind == CREATE:
                        body = {"id": result.instance_id, "jobid": job["jobid"]}
                    result = body
                elif cmd.name in events.ACTIONS:
                    ctx = events.context(self.state, cmd.name, events.sync_resource_id(request, result))
                    if ctx is not None:
                        events.completed(self.state, ctx)
                if not cmd.name.startswith(("list", "query")):
                    self.state.save()
            return 200, {key: result}
        except ApiError as exc:
            return exc.errorcode, {key: exc.body()}
        except Exception as exc:
            log.exception("command=%s crashed", cmd.name)
            return 530, {key: internal(str(exc)).body()}

    def inject(self, spec: dict) -> None:
        fields = {k: spec[k] for k in Injection.__dataclass_fields__ if k in spec}
        if not fields.get("command"):
            raise ValueError("an injection needs a command")
        self.injections.add(Injection(**fields))


class Handler(BaseHTTPRequestHandler):
    server_version = "CloudStackLab/1.0"
    lab: Lab  # set on the subclass made by make_server

    def log_message(self, format, *args):
        # The default logs the request line, which carries the signature on GET requests.
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=UTF-8")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _api(self, query: str, body: bytes) -> None:
        started = time.monotonic()
        params: dict[str, str] = {}
        for source in (query, body.decode("utf-8", "replace")):
            for k, values in parse_qs(source, keep_blank_values=True).items():
                params.setdefault(k, values[0])
        answer = self.lab.handle(params)
        if answer is RESET:
            self.close_connection = True
            log.info("command=%s injected=reset", params.get("command"))
            return
        status, payload = answer
        log.info("command=%s status=%s ms=%d", params.get("command"), status,
                 (time.monotonic() - started) * 1000)
        self._send_json(status, payload)

    def _admin(self, method: str, path: str, body: bytes) -> None:
        if path == "/lab/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/lab/inject" and method == "POST":
            try:
                self.lab.inject(json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, {"injections": self.lab.injections.list()})
        elif path == "/lab/inject" and method == "DELETE":
            self.lab.injections.clear()
            self._send_json(200, {"injections": []})
        elif path == "/lab/inject":
            self._send_json(200, {"injections": self.lab.injections.list()})
        elif path.startswith("/lab/vms/") and path.endswith("/stuck") and method == "POST":
            self._stuck(path.removeprefix("/lab/vms/").removesuffix("/stuck"), json.loads(body or b"{}"))
        elif path.startswith("/lab/vms/") and path.endswith("/workload") and method == "POST":
            self._workload(path.removeprefix("/lab/vms/").removesuffix("/workload"), body)
        elif path.startswith("/lab/guests") and method == "GET":
            self._guests(path.removeprefix("/lab/guests").strip("/"))
        else:
            self._send_json(404, {"error": f"no such lab endpoint {path}"})

    def _stuck(self, vm_id: str, spec: dict) -> None:
        """A VM left mid-transition (Starting/Stopping/Migrating) since `since` (ISO time): what CloudStack shows
        after a management server died during the VM's job; its DB keeps the state until a forced stop."""
        state = self.lab.state
        with state.lock:
            vm = state.vms.get(vm_id)
            wanted = spec.get("state", "Starting")
            if vm is None or wanted not in ("Starting", "Stopping", "Migrating"):
                self._send_json(400, {"error": f"no VM {vm_id} or state {wanted!r} is not transitional"})
                return
            vm["state"] = wanted
            vm["lastupdated"] = spec.get("since") or vm.get("lastupdated") or vm["created"]
            state.save()
        self._send_json(200, {"id": vm_id, "state": wanted, "lastupdated": vm["lastupdated"]})

    def _workload(self, vm_id: str, body: bytes) -> None:
        """What a record-only VM's guest is doing, for its statistics in listVirtualMachines (stats.py): CPU %,
        memory used, network and disk totals. `{}` clears it (the VM reports no statistics again)."""
        state = self.lab.state
        try:
            workload = stats.validate(json.loads(body or b"{}"))
        except ValueError as exc:
            self._send_json(400, {"error": str(exc)})
            return
        with state.lock:
            vm = state.vms.get(vm_id)
            if vm is None:
                self._send_json(404, {"error": f"no VM {vm_id}"})
                return
            if workload:
                vm[stats.WORKLOAD] = workload
            else:
                vm.pop(stats.WORKLOAD, None)
            state.save()
        self._send_json(200, {"id": vm_id, "workload": workload})

    def _guests(self, rest: str) -> None:
        """GET /lab/guests, /lab/guests/<vm id>, /lab/guests/<vm id>/serial?tail=N (QEMU guests)."""
        state = self.lab.state
        vm_id, _, what = rest.partition("/")
        if not vm_id:
            self._send_json(200, {"guests": hypervisor.guests.list(state)})
            return
        info = hypervisor.guests.describe(state, vm_id)
        if info is None:
            self._send_json(404, {"error": f"VM {vm_id} never ran as a guest"})
        elif what == "serial":
            tail = parse_qs(urlsplit(self.path).query).get("tail", [""])[0]
            serial = hypervisor.guests.serial(state, vm_id, int(tail) if tail.isdigit() else None)
            self._send_json(200, {"vm_id": vm_id, "serial": serial or ""})
        else:
            self._send_json(200, info)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body() if method in ("POST", "DELETE") else b""
        if url.path == API_PATH and method in ("GET", "POST"):
            self._api(url.query, body)
        elif url.path.startswith("/lab/"):
            self._admin(method, url.path, body)
        elif url.path in ("/", "/client", "/client/"):
            # What a wrong API URL usually reaches on a real server: the UI's HTML.
            self._send(200, _UI_PAGE, "text/html; charset=UTF-8")
        else:
            self._send(404, b"<html><body><h1>HTTP Status 404 - Not Found</h1></body></html>",
                       "text/html; charset=UTF-8")

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")


def make_server(lab: Lab, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("LabHandler", (Handler,), {"lab": lab})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
