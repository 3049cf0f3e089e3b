import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.core.logging import RingBufferHandler
from tests.openapi import assert_matches_schema

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_health_with_database_up(anon_client):
    for path in ("/health", "/api/v1/health"):
        body = anon_client.get(path).json()
        assert body["status"] == "healthy" and body["database"] == "connected"
        assert body["version"] and body["timestamp"].endswith("Z")


def test_health_with_database_down_is_503(tmp_path):
    # A real unreachable database (nothing listens on port 1), in a fresh process so settings are read anew.
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/api/v1/health'); print(json.dumps({'code': r.status_code, 'body': r.json()}))"
    )
    env = {**os.environ, "DATABASE_URL": "mysql://root@127.0.0.1:1/nowhere", "DJANGO_SETTINGS_MODULE": "config.settings",
           "MP_VAR_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 503
    assert result["body"]["database"] == "disconnected" and result["body"]["status"] == "unhealthy"


def test_debug_health_and_endpoints(viewer_client, operator_client):
    response = viewer_client.get("/api/v1/debug/health")
    assert_matches_schema(response, "/api/v1/debug/health", "get")
    body = response.json()
    assert body["components"]["database"] == "connected"
    assert body["components"]["ossea_client"] == "not_configured"
    # The route list is for operators and up (issue 13).
    assert viewer_client.get("/api/v1/debug/endpoints").status_code == 403
    response = operator_client.get("/api/v1/debug/endpoints")
    assert_matches_schema(response, "/api/v1/debug/endpoints", "get")
    endpoints = response.json()
    paths = {e["path"] for e in endpoints["endpoints"]}
    assert "/api/v1/auth/login" in paths and "/api/v1/ossea/config" in paths
    assert endpoints["count"] == len(endpoints["endpoints"])


def test_debug_logs_show_recent_records_without_secrets(admin_client_api, anon_client):
    anon_client.post("/api/v1/auth/login", {"username": "mallory", "password": "hunter2-secret"}, format="json")
    logs = admin_client_api.get("/api/v1/debug/logs").json()["logs"]
    assert any("mallory" in r["message"] for r in logs)
    assert not any("hunter2-secret" in r["message"] for r in RingBufferHandler.recent(1000))


def test_unknown_api_path_is_json_404(anon_client):
    response = anon_client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json()["success"] is False


def test_schema_generates_without_warnings():
    out = subprocess.run([sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn",
                          "--file", "/dev/null"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]


def test_nbd_bindings_import_in_the_virtualenv():
    import nbd

    handle = nbd.NBD()
    assert handle.get_version()


def test_check_deploy_passes_with_documented_variables(tmp_path):
    env = {**os.environ, "DJANGO_SECRET_KEY": "x" * 60 + "-production-key-for-check", "DJANGO_DEBUG": "0",
           "DJANGO_ALLOWED_HOSTS": "oma.example.com", "DJANGO_SECURE_COOKIES": "1", "DJANGO_SECURE_SSL_REDIRECT": "1",
           "DJANGO_HSTS_SECONDS": "31536000", "DJANGO_BEHIND_TLS_PROXY": "1", "MP_TRUSTED_PROXIES": "127.0.0.2",
           "MP_VAR_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
