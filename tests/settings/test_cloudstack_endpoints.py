"""The CloudStack settings endpoints against the emulator (a separate process, real signed HTTP)."""
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.openapi import assert_matches_schema

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def creds(lab, **extra):
    return {"api_url": lab.url, "api_key": lab.api_key, "secret_key": lab.secret_key, **extra}


def test_ossea_config_test_action(operator_client, cs_lab):
    response = operator_client.post("/api/v1/ossea/config", {"action": "test", "configuration": creds(cs_lab, zone="OSSEA-Zone")},
                                    format="json")
    assert response.status_code == 200
    assert_matches_schema(response, "/api/v1/ossea/config", "post")
    assert response.json() == {"success": True, "message": "OSSEA connection test successful",
                               "details": {"zones_found": 1, "zone_verified": "OSSEA-Zone", "api_accessible": True}}


class _LoginPage(BaseHTTPRequestHandler):
    """A web console's login page: what an operator gets by pasting the UI's URL instead of the API's."""

    def _answer(self):
        body = b"<!doctype html><html><body><form>Log in</form></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def html_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_wrong_keys_unknown_zone_html_and_unreachable(operator_client, cs_lab, html_site):
    post = lambda body: operator_client.post("/api/v1/settings/cloudstack/test-connection", body, format="json")  # noqa: E731
    bad_key = post({**creds(cs_lab), "secret_key": "wrong"})
    assert bad_key.status_code == 400 and "refused the API key" in bad_key.json()["error"]
    assert_matches_schema(bad_key, "/api/v1/settings/cloudstack/test-connection", "post")
    zone = post(creds(cs_lab, zone="Nowhere"))
    assert zone.status_code == 400 and "Zone 'Nowhere' not found" in zone.json()["error"]
    # A wrong URL that answers with a web page, not a CloudStack API.
    html = post({**creds(cs_lab), "api_url": f"{html_site}/client/"})
    assert html.status_code == 502 and "did not answer like a CloudStack API" in html.json()["error"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = post({**creds(cs_lab), "api_url": f"http://127.0.0.1:{port}/client/api"})
    assert down.status_code == 502 and "unreachable" in down.json()["error"]
    assert_matches_schema(down, "/api/v1/settings/cloudstack/test-connection", "post")
    assert_matches_schema(post(creds(cs_lab)), "/api/v1/settings/cloudstack/test-connection", "post")
    assert post({"api_url": cs_lab.url}).status_code == 400


def test_not_configured_is_503(operator_client, db):
    response = operator_client.get("/api/v1/networks/available")
    assert response.status_code == 503 and "not configured" in response.json()["error"]
    assert_matches_schema(response, "/api/v1/networks/available", "get")


def test_detect_validate_discover_networks_offerings(operator_client, cs_config, cs_lab):
    detected = operator_client.post("/api/v1/settings/cloudstack/detect-oma-vm", {"config_id": cs_config.id, "save": True},
                                    format="json")
    assert detected.status_code == 200 and detected.json()["oma_vm"]["id"] == cs_lab.oma_vm_id
    assert_matches_schema(detected, "/api/v1/settings/cloudstack/detect-oma-vm", "post")
    cs_config.refresh_from_db()
    assert cs_config.oma_vm_id == cs_lab.oma_vm_id and detected.json()["saved"] is True

    valid = operator_client.post("/api/v1/settings/cloudstack/validate", {}, format="json")
    assert_matches_schema(valid, "/api/v1/settings/cloudstack/validate", "post")
    valid = valid.json()
    assert valid["valid"] is True, valid
    assert {c["check_name"] for c in valid["checks"]} >= {"API access", "Zone", "Control-plane VM",
                                                           "Customized disk offering"}

    everything = operator_client.post("/api/v1/settings/cloudstack/discover-all", {}, format="json")
    assert_matches_schema(everything, "/api/v1/settings/cloudstack/discover-all", "post")
    everything = everything.json()
    assert everything["zones"] and everything["networks"] and everything["oma_vm"]["id"] == cs_lab.oma_vm_id
    assert operator_client.post("/api/v1/ossea/discover-resources", creds(cs_lab), format="json").json()["disk_offerings"]

    networks = operator_client.get("/api/v1/settings/cloudstack/networks")
    assert_matches_schema(networks, "/api/v1/settings/cloudstack/networks", "get")
    networks = networks.json()["networks"]
    assert networks and operator_client.get("/api/v1/networks/available").json()["count"] == len(networks)
    name = networks[0]["name"]
    resolved = operator_client.post("/api/v1/networks/resolve", {"network_names": [name, "nope"]}, format="json")
    assert_matches_schema(resolved, "/api/v1/networks/resolve", "post")
    resolved = resolved.json()
    assert resolved["resolved"][name]["id"] == networks[0]["id"] and resolved["unresolved"] == ["nope"]

    offerings = operator_client.get("/api/v1/service-offerings/available?cpus=64&memory_mb=999999")
    assert_matches_schema(offerings, "/api/v1/service-offerings/available", "get")
    offerings = offerings.json()
    assert offerings["count"] >= 2
    assert any(o["is_customized"] and o["fits"] for o in offerings["service_offerings"])
    assert any(o["fits"] is False for o in offerings["service_offerings"])
    assert operator_client.get("/api/v1/service-offerings/available?cpus=x").status_code == 400


def test_validate_reports_failing_checks(operator_client, cs_lab, db):
    body = creds(cs_lab, zone="Nowhere", oma_vm_id="00000000-dead-beef-0000-000000000000")
    result = operator_client.post("/api/v1/settings/cloudstack/validate", body, format="json")
    assert_matches_schema(result, "/api/v1/settings/cloudstack/validate", "post")
    result = result.json()
    failing = {c["check_name"] for c in result["checks"] if c["status"] == "fail"}
    assert result["valid"] is False and {"Zone", "Control-plane VM"} <= failing


def test_streamlined_config_detects_oma_vm_and_saves(operator_client, cs_lab, db):
    response = operator_client.post("/api/v1/ossea/config-streamlined", creds(cs_lab, zone="OSSEA-Zone", name="lab"),
                                    format="json")
    assert response.status_code == 201, response.json()
    assert_matches_schema(response, "/api/v1/ossea/config-streamlined", "post")
    config = response.json()["configuration"]
    assert config["oma_vm_id"] == cs_lab.oma_vm_id and config["secret_key"] == "[REDACTED]"
    again = operator_client.post("/api/v1/ossea/config-streamlined", creds(cs_lab, zone="OSSEA-Zone", name="lab"),
                                 format="json")
    assert again.status_code == 200
    assert_matches_schema(again, "/api/v1/ossea/config-streamlined", "post")
    bad = operator_client.post("/api/v1/ossea/config-streamlined", {**creds(cs_lab, zone="OSSEA-Zone"), "secret_key": "x"},
                               format="json")
    assert bad.status_code == 400
    from apps.settings.models import OsseaConfig

    assert OsseaConfig.objects.count() == 1


@pytest.mark.parametrize(("method", "url", "body"), [
    ("get", "/api/v1/service-offerings/available?cpus=x", None),
    ("get", "/api/v1/service-offerings/available?memory_mb=-1", None),
    ("get", "/api/v1/service-offerings/available?config_id=0", None),
    ("get", "/api/v1/networks/available?config_id=abc", None),
    ("post", "/api/v1/settings/cloudstack/detect-oma-vm", {"save": "maybe"}),
    ("post", "/api/v1/settings/cloudstack/detect-oma-vm", ["not", "an", "object"]),
    ("post", "/api/v1/settings/cloudstack/validate", {"config_id": "x"}),
    ("post", "/api/v1/settings/cloudstack/discover-all", {"api_url": "not a url"}),
    ("post", "/api/v1/networks/resolve", {"network_names": []}),
])
def test_bad_input_is_400_even_before_cloudstack_is_configured(operator_client, db, method, url, body):
    """Nothing is configured (which alone answers 503): a malformed request must still be told what is wrong."""
    response = getattr(operator_client, method)(url, body, format="json") if body is not None else operator_client.get(url)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["success"] is False and payload["error"]


def test_offering_filters_still_work_with_a_configuration(operator_client, cs_config):
    answer = operator_client.get("/api/v1/service-offerings/available?cpus=2&memory_mb=2048")
    assert answer.status_code == 200
    rows = answer.json()["service_offerings"]
    for row in rows:
        big_enough = (row["cpu_number"] or 0) >= 2 and (row["memory_mb"] or 0) >= 2048
        assert row["fits"] == (row["is_customized"] or big_enough), row
    assert any(row["fits"] for row in rows) and not all(row["fits"] for row in rows)


def test_validate_reports_a_host_that_does_not_resolve_as_a_failed_check(operator_client, db):
    # `.invalid` never resolves (RFC 6761): validate says so in its report instead of failing the request.
    body = {"api_url": "https://cloudstack.example.invalid/client/api", "api_key": "k", "secret_key": "s"}
    result = operator_client.post("/api/v1/settings/cloudstack/validate", body, format="json")
    assert result.status_code == 200, result.json()
    assert_matches_schema(result, "/api/v1/settings/cloudstack/validate", "post")
    result = result.json()
    assert result["valid"] is False and result["message"].startswith("Configuration has problems")
    [check] = result["checks"]
    assert check["check_name"] == "API access" and check["status"] == "fail"
    assert "does not resolve" in check["message"]
