"""One logged-in vCenter session: login, keep-alive, re-login, fault mapping, property reads.

`VCenterSession` is the ground floor of `VSphereSource`: it opens one session with an explicit
TLS context, keeps it alive and logs in again when vCenter says `NotAuthenticated`
(replication jobs outlive idle sessions). Every vCenter call goes through `call`, which maps
pyvmomi faults and network errors to `VCenterError`. Reads use property collectors (a
container view traversal, paged with ContinueRetrievePropertiesEx), never one round trip per
property.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any, Self, TypeVar

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from agent.errors import VCenterError

from .endpoint import PinnedTLSContext, ThumbprintMismatch, VCenterEndpoint
from .records import _type_name

# The provider's one logger name, shared by session and source.
log = logging.getLogger("agent.vsphere")

T = TypeVar("T")

PAGE_SIZE = 500

# The cookie vCenter sets on login; pyvmomi sends it back on every call.
SESSION_COOKIE = "vmware_soap_session"

# Faults that mean "try again later" rather than "your request is wrong".
_NETWORK_ERRORS = (OSError, http.client.HTTPException, ssl.SSLError)


def _fault_text(exc: BaseException) -> str:
    msg = getattr(exc, "msg", None) or str(exc) or ""
    name = _type_name(exc)
    return f"{name}: {msg}" if msg and msg != name else name


class VCenterSession:
    """A logged-in vCenter session and the raw calls every operation goes through."""

    def __init__(self, endpoint: VCenterEndpoint, *, keepalive_seconds: float = 600.0):
        self.endpoint = endpoint
        self.keepalive_seconds = keepalive_seconds
        self._si: Any = None
        self._content: Any = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._keepalive: threading.Thread | None = None
        self.relogins = 0

    # -- session -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        """Log in; raises VCenterError with a clear reason (credentials, TLS, unreachable)."""
        ep = self.endpoint
        kwargs: dict[str, Any] = {
            "host": ep.host, "port": ep.port, "path": ep.path,
            "user": ep.username, "pwd": ep.password,
            "httpConnectionTimeout": ep.timeout,
        }
        # Always an explicit context: pyvmomi would otherwise skip verification for localhost.
        if ep.thumbprint:
            kwargs["sslContext"] = PinnedTLSContext(ep.thumbprint)
        else:
            try:
                kwargs["sslContext"] = ssl.create_default_context(cafile=ep.ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise VCenterError(f"cannot load vCenter CA file {ep.ca_file}: {exc}") from exc
        try:
            self._probe(kwargs["sslContext"])
            self._si = SmartConnect(**kwargs)
            self._content = self._si.RetrieveContent()
        except vim.fault.InvalidLogin as exc:
            raise VCenterError(
                f"vCenter {ep.display} rejected the login of user {ep.username!r}: invalid credentials"
            ) from exc
        except vmodl.MethodFault as exc:
            raise VCenterError(f"vCenter {ep.display} refused the login: {_fault_text(exc)}") from exc
        except ThumbprintMismatch as exc:
            raise VCenterError(f"vCenter {ep.display} TLS certificate does not match the pinned thumbprint "
                               f"(server presents {exc.actual})") from exc
        except ssl.SSLCertVerificationError as exc:
            raise VCenterError(
                f"vCenter {ep.display} TLS certificate is not trusted ({exc.verify_message}); "
                "configure vcenter.thumbprint or vcenter.ca_file"
            ) from exc
        except TimeoutError as exc:
            raise VCenterError(f"vCenter {ep.display} unreachable: timed out after {ep.timeout:g}s") from exc
        except _NETWORK_ERRORS as exc:
            raise VCenterError(f"vCenter {ep.display} unreachable: {exc}") from exc
        except Exception as exc:  # pyvmomi raises bare Exception for unexpected answers
            raise VCenterError(f"vCenter {ep.display} connection failed: {_type_name(exc)}: {exc}") from exc
        log.info("vcenter login host=%s user=%s", ep.display, ep.username)
        if self.keepalive_seconds > 0:
            self._stop.clear()
            self._keepalive = threading.Thread(target=self._keepalive_loop, name="vcenter-keepalive",
                                               daemon=True)
            self._keepalive.start()

    def _probe(self, context: ssl.SSLContext) -> None:
        """Reach vCenter once with our timeout: SmartConnect's API-version probe has none and
        would hang forever on a server that accepts the connection but never answers."""
        ep = self.endpoint
        conn = http.client.HTTPSConnection(ep.host, ep.port, timeout=ep.timeout, context=context)
        try:
            conn.request("GET", ep.path.rstrip("/") + "/vimServiceVersions.xml")
            conn.getresponse().read()
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        si, self._si, self._content = self._si, None, None
        if si is not None:
            try:
                Disconnect(si)
            except (vmodl.MethodFault, *_NETWORK_ERRORS):
                log.debug("vcenter logout failed host=%s", self.endpoint.display)

    @property
    def content(self) -> Any:
        if self._content is None:
            raise VCenterError(f"not connected to vCenter {self.endpoint.display}")
        return self._content

    def _keepalive_loop(self) -> None:
        # A cheap call well inside vCenter's idle timeout keeps long copies from losing the session.
        while not self._stop.wait(self.keepalive_seconds):
            try:
                self.call(lambda: self._si.CurrentTime())
            except VCenterError as exc:
                log.warning("vcenter keepalive failed host=%s error=%s", self.endpoint.display, exc)

    def _relogin(self) -> None:
        with self._lock:
            ep = self.endpoint
            # Login on the same stub keeps every managed object reference we hold usable.
            try:
                self._content.sessionManager.Login(ep.username, ep.password)
            except vim.fault.InvalidLogin as exc:
                raise VCenterError(f"vCenter {ep.display} session expired and re-login was rejected") from exc
            self.relogins += 1
            log.info("vcenter session renewed host=%s user=%s", ep.display, ep.username)

    def call(self, fn: Callable[[], T], what: str = "vCenter call") -> T:
        """Run one vCenter call; log in again once on NotAuthenticated; map faults to VCenterError."""
        if self._si is None:
            raise VCenterError(f"not connected to vCenter {self.endpoint.display}")
        for attempt in (1, 2):
            try:
                return fn()
            except vim.fault.NotAuthenticated as exc:
                if attempt == 2:
                    raise VCenterError(f"{what} failed: session not authenticated after re-login") from exc
                self._relogin()
            except vmodl.MethodFault as exc:
                raise VCenterError(f"{what} failed: {_fault_text(exc)}") from exc
            except TimeoutError as exc:
                raise VCenterError(f"{what} failed: vCenter {self.endpoint.display} timed out") from exc
            except _NETWORK_ERRORS as exc:
                raise VCenterError(f"{what} failed: vCenter {self.endpoint.display} unreachable: {exc}") from exc
        raise AssertionError("unreachable")

    def current_session_key(self) -> str:
        return self.call(lambda: self.content.sessionManager.currentSession.key)

    def session_cookie(self) -> str:
        """This session's `vmware_soap_session` cookie ("name=value"): vCenter's HTTP services
        (datastore files at /folder) accept it as the login. A secret: never log it."""
        raw = getattr(getattr(self._si, "_stub", None), "cookie", "") or ""
        morsel = SimpleCookie(raw).get(SESSION_COOKIE)
        if morsel is None:
            raise VCenterError(f"vCenter {self.endpoint.display} gave this session no {SESSION_COOKIE} cookie")
        return f"{SESSION_COOKIE}={morsel.coded_value}"

    # -- property collector --------------------------------------------------------------

    def _retrieve(self, container: Any, types: list[Any], props: dict[Any, list[str]],
                  recursive: bool = True) -> list[tuple[Any, dict[str, Any]]]:
        """All objects of `types` under `container` with the given properties, page by page."""
        pc_mod = vmodl.query.PropertyCollector
        content = self.content
        view = self.call(lambda: content.viewManager.CreateContainerView(container, types, recursive),
                         "CreateContainerView")
        try:
            traversal = pc_mod.TraversalSpec(name="traverseView", path="view", skip=False,
                                             type=vim.view.ContainerView)
            spec = pc_mod.FilterSpec(
                objectSet=[pc_mod.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
                propSet=[pc_mod.PropertySpec(type=t, pathSet=paths) for t, paths in props.items()],
            )
            options = pc_mod.RetrieveOptions(maxObjects=PAGE_SIZE)
            collector = content.propertyCollector
            result = self.call(lambda: collector.RetrievePropertiesEx([spec], options), "RetrievePropertiesEx")
            rows: list[tuple[Any, dict[str, Any]]] = []
            while result is not None:
                for obj in result.objects or []:
                    rows.append((obj.obj, {p.name: p.val for p in obj.propSet or []}))
                token = result.token
                if not token:
                    break
                result = self.call(lambda token=token: collector.ContinueRetrievePropertiesEx(token),
                                   "ContinueRetrievePropertiesEx")
            return rows
        finally:
            try:
                self.call(view.DestroyView, "DestroyView")
            except VCenterError:
                log.debug("container view cleanup failed")

    def _properties(self, obj: Any, paths: list[str]) -> dict[str, Any]:
        """Selected properties of one object in one round trip."""
        pc_mod = vmodl.query.PropertyCollector
        spec = pc_mod.FilterSpec(objectSet=[pc_mod.ObjectSpec(obj=obj, skip=False)],
                                 propSet=[pc_mod.PropertySpec(type=type(obj), pathSet=paths)])
        collector = self.content.propertyCollector
        result = self.call(lambda: collector.RetrievePropertiesEx([spec], pc_mod.RetrieveOptions()),
                           "RetrievePropertiesEx")
        if result is None or not result.objects:
            return {}
        return {p.name: p.val for p in result.objects[0].propSet or []}
