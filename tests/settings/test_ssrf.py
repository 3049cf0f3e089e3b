"""The CloudStack setup endpoints cannot be turned into a request forger (issue #13, item 3).

Through the API, against the CloudStack emulator and real sockets: a viewer may only test stored configurations (a
URL of their choosing is a 403 and no request leaves); an operator's URL is refused when it resolves to loopback or
link-local/metadata addresses unless the settings allow them; a silent port is given up after the setup timeout; a
remote body that is not a CloudStack API answer is never repeated, only described in our words.
"""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from tests.openapi import assert_matches_schema

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

SECRET = "root:x:0:0:metadata-token-AKIA1234"

# Every endpoint that calls a CloudStack URL from the body, and the body's extra fields it needs.
URL_ENDPOINTS = [
    ("/api/v1/settings/cloudstack/test-connection", {}),
    ("/api/v1/settings/cloudstack/validate", {}),
    ("/api/v1/settings/cloudstack/discover-all", {}),
    ("/api/v1/ossea/discover-resources", {}),
    ("/api/v1/networks/resolve", {"network_names": ["net"]}),
]


def creds(url, lab):
    return {"api_url": url, "api_key": lab.api_key, "secret_key": lab.secret_key}


def post(client, path, creds_, extra):
    """POST to a setup endpoint; the ossea/config test action wraps the keys in `configuration`."""
    if path == "/api/v1/ossea/config":
        return client.post(path, {"action": "test", "configuration": creds_}, format="json")
    return client.post(path, {**creds_, **extra}, format="json")


class _Recorder(BaseHTTPRequestHandler):
    """Counts requests and answers as the server's `answer` says: (status, content type, body)."""

    def do_POST(self):
        self.server.hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, ctype, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def remote():
    """A local HTTP server standing in for whatever a URL points at; `.answer` is what it says, `.hits` counts."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.hits = 0
    server.answer = (200, "application/json", b"{}")
    server.url = f"http://127.0.0.1:{server.server_address[1]}/client/api"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def keys(settings):
    """Keys for a server that is not the emulator; loopback allowed, as in the lab (the stand-ins listen there)."""
    settings.MP_CLOUDSTACK_ALLOW_LOOPBACK = True
    return SimpleNamespace(api_key="key", secret_key="secret")


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- who may name a URL ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, extra", [*URL_ENDPOINTS, ("/api/v1/ossea/config", {})])
def test_a_viewer_cannot_make_the_server_call_a_url(viewer_client, keys, remote, path, extra):
    response = post(viewer_client, path, creds(remote.url, keys), extra)
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["success"] is False and body["error_code"] == "OSSEA_URL_NOT_ALLOWED"
    assert remote.hits == 0  # nothing left the server
    assert_matches_schema(response, path, "post")


def test_a_viewer_may_test_stored_configurations(viewer_client, cs_config):
    by_id = {"config_id": cs_config.id}
    tested = viewer_client.post("/api/v1/settings/cloudstack/test-connection", by_id, format="json")
    assert tested.status_code == 200 and tested.json()["details"]["api_accessible"] is True
    assert viewer_client.post("/api/v1/settings/cloudstack/validate", by_id, format="json").status_code == 200
    assert viewer_client.post("/api/v1/settings/cloudstack/discover-all", by_id, format="json").status_code == 200
    assert viewer_client.post("/api/v1/networks/resolve", {**by_id, "network_names": ["x"]},
                              format="json").status_code == 200
    action = viewer_client.post("/api/v1/ossea/config", {"action": "test", "id": cs_config.id}, format="json")
    assert action.status_code == 200 and action.json()["details"]["zone_verified"] == "OSSEA-Zone"


def test_an_operator_may_test_any_url(operator_client, admin_client_api, cs_lab):
    for client in (operator_client, admin_client_api):
        response = post(client, "/api/v1/ossea/config", creds(cs_lab.url, cs_lab), {})
        assert response.status_code == 200 and response.json()["details"]["api_accessible"] is True


# --- where a URL may lead -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, extra", [*URL_ENDPOINTS, ("/api/v1/ossea/config", {})])
def test_loopback_is_refused_unless_the_settings_allow_it(operator_client, keys, remote, settings, path, extra):
    settings.MP_CLOUDSTACK_ALLOW_LOOPBACK = False
    # A host name is resolved first: "localhost" is as much this host as 127.0.0.1.
    for url in (remote.url, remote.url.replace("127.0.0.1", "localhost")):
        response = post(operator_client, path, creds(url, keys), extra)
        assert response.status_code == 400, response.content
        assert response.json()["error_code"] == "OSSEA_ADDRESS_REFUSED"
        assert "MP_CLOUDSTACK_ALLOW_LOOPBACK" in response.json()["error"]
    assert remote.hits == 0
    settings.MP_CLOUDSTACK_ALLOW_LOOPBACK = True
    post(operator_client, path, creds(remote.url, keys), extra)
    assert remote.hits >= 1


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:8080/client/api",
                                 "http://[::ffff:169.254.169.254]/"])
def test_link_local_and_metadata_addresses_are_refused(operator_client, keys, url):
    started = time.monotonic()
    response = post(operator_client, "/api/v1/settings/cloudstack/test-connection", creds(url, keys), {})
    assert response.status_code == 400 and response.json()["error_code"] == "OSSEA_ADDRESS_REFUSED"
    assert time.monotonic() - started < 2  # refused before any connection attempt


def test_a_stored_configuration_is_checked_too(viewer_client, cs_config, settings):
    settings.MP_CLOUDSTACK_ALLOW_LOOPBACK = False
    response = viewer_client.post("/api/v1/settings/cloudstack/test-connection", {"config_id": cs_config.id},
                                  format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "OSSEA_ADDRESS_REFUSED"
    action = viewer_client.post("/api/v1/ossea/config", {"action": "test", "id": cs_config.id}, format="json")
    assert action.status_code == 400 and action.json()["error_code"] == "OSSEA_ADDRESS_REFUSED"


# --- what the caller learns ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, extra", [*URL_ENDPOINTS, ("/api/v1/ossea/config", {})])
def test_a_silent_port_is_given_up_after_the_setup_timeout(operator_client, keys, silent_port, settings, path,
                                                           extra):
    settings.MP_CLOUDSTACK_SETUP_TIMEOUT = 1
    started = time.monotonic()
    response = post(operator_client, path, creds(f"http://127.0.0.1:{silent_port}/client/api", keys), extra)
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"a silent port held the request {elapsed:.1f} s"
    if path == "/api/v1/settings/cloudstack/validate":
        # validate answers 200 with the failing check, in our words
        check = response.json()["checks"][0]
        assert check["status"] == "fail" and "no answer within the request timeout" in check["message"]
    else:
        assert response.status_code == 502, response.content
        assert "no answer within the request timeout" in response.json()["error"]


def test_a_refused_port_is_said_in_our_words(operator_client, keys, closed_port):
    response = post(operator_client, "/api/v1/settings/cloudstack/test-connection",
                    creds(f"http://127.0.0.1:{closed_port}/client/api", keys), {})
    assert response.status_code == 502 and "connection refused" in response.json()["error"]


@pytest.mark.parametrize("status, ctype, body", [
    # A web application's login page, with free text smuggled into its content type.
    (200, f"text/html; charset=utf-8; x={SECRET}", f"<html><form>Log in</form><!-- {SECRET} --></html>"),
    # The same application answering the API path with its own JSON error (the old code echoed `errortext`).
    (401, "application/json", json.dumps({"error": {"errorcode": 401, "errortext": SECRET}})),
    (200, "application/json", json.dumps({"listzonesresponse": [SECRET]})),
], ids=["login-page", "json-login-error", "not-an-object"])
@pytest.mark.parametrize("path, extra", [*URL_ENDPOINTS, ("/api/v1/ossea/config", {})])
def test_a_body_that_is_not_cloudstacks_is_never_repeated(operator_client, keys, remote, path, extra, status,
                                                          ctype, body):
    remote.answer = (status, ctype, body.encode())
    response = post(operator_client, path, creds(remote.url, keys), extra)
    assert remote.hits >= 1
    assert SECRET not in response.content.decode()
    assert "metadata-token" not in response.content.decode()
    if path == "/api/v1/settings/cloudstack/validate":
        message = response.json()["checks"][0]["message"]
    else:
        assert response.status_code == 502, response.content
        assert response.json()["error_code"] == "OSSEA_BAD_RESPONSE"
        message = response.json()["error"]
    assert f"HTTP {status}" in message and "did not answer like a CloudStack API" in message


def test_cloudstacks_own_errors_still_say_what_cloudstack_said(operator_client, cs_lab):
    response = post(operator_client, "/api/v1/settings/cloudstack/test-connection",
                    {**creds(cs_lab.url, cs_lab), "secret_key": "wrong"}, {})
    assert response.status_code == 400
    assert "unable to verify user credentials" in response.json()["error"]

