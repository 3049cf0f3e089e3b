"""The HTTPS redirect and the tunnel-only host names, aware of the agents' SSH tunnel.

An agent reaches the API through its tunnel: sshd connects to gunicorn from the loopback, and the request says
``Host: localhost:8082`` over plain HTTP. With the production settings (``DJANGO_ALLOWED_HOSTS`` naming the public
name, ``DJANGO_SECURE_SSL_REDIRECT``) that request would be refused (400) or sent to https (301). It is let through,
and only it: the peer is the loopback and not a trusted proxy, no proxy header is present (the TLS proxy always adds
X-Forwarded-For and X-Forwarded-Proto, so a Host forged from outside never qualifies), and the Host is a loopback
name on the tunnel's API port.

So the redirect is done here rather than by Django's SecurityMiddleware (whose ``SECURE_SSL_REDIRECT`` stays off:
it cannot exempt a request by where it comes from); that middleware still adds the security headers.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpResponsePermanentRedirect
from django.http.request import split_domain_port

from apps.core.selectors import is_loopback, is_trusted_proxy

TUNNEL_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_FORWARDED")


def tunnel_ports() -> set[int]:
    """The control plane's tunnel API port and the agents' local forward of it (MP_OMA_URL_FOR_AGENT)."""
    return {int(settings.MP_TUNNEL_API_PORT), urlsplit(settings.MP_OMA_URL_FOR_AGENT).port or 80}


def is_tunnel_request(request) -> bool:
    """Whether the request arrived through an agent's tunnel (the module's docstring says why each check)."""
    meta = request.META
    if any(meta.get(header) for header in PROXY_HEADERS):
        return False
    peer = meta.get("REMOTE_ADDR")
    if not is_loopback(peer) or is_trusted_proxy(peer):
        return False
    name, port = split_domain_port(meta.get("HTTP_HOST", ""))
    return name in TUNNEL_HOST_NAMES and port.isdigit() and int(port) in tunnel_ports()


class AgentTunnelMiddleware:
    """Before SecurityMiddleware: tunnel requests pass as they are; others meet the host rule and the redirect."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.redirect_exempt = [re.compile(pattern) for pattern in settings.SECURE_REDIRECT_EXEMPT]

    def __call__(self, request):
        request.via_agent_tunnel = is_tunnel_request(request)
        if not request.via_agent_tunnel:
            name, _ = split_domain_port(request.META.get("HTTP_HOST", ""))
            if name in settings.AGENT_TUNNEL_ONLY_HOSTS:
                raise DisallowedHost(f"Invalid HTTP_HOST header: {name!r} is accepted only from an agent's tunnel")
            path = request.path.lstrip("/")
            if (settings.MP_SECURE_SSL_REDIRECT and not request.is_secure()
                    and not any(pattern.search(path) for pattern in self.redirect_exempt)):
                host = settings.SECURE_SSL_HOST or request.get_host()
                return HttpResponsePermanentRedirect(f"https://{host}{request.get_full_path()}")
        return self.get_response(request)
