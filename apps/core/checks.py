"""System checks of core's own security settings (``manage.py check --deploy``)."""
from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

from apps.core.selectors import is_trusted_proxy


@register(Tags.security, deploy=True)
def check_ssl_redirect(app_configs, **kwargs):
    # Django's security.W008 is silenced because AgentTunnelMiddleware does the redirect; this one stands for it.
    if settings.MP_SECURE_SSL_REDIRECT:
        return []
    return [Warning("DJANGO_SECURE_SSL_REDIRECT is off: plain HTTP requests (other than the agents' tunnel) are "
                    "not sent to https. Set DJANGO_SECURE_SSL_REDIRECT=1 unless the TLS proxy redirects them.",
                    id="core.W008")]


@register(Tags.security, deploy=True)
def check_trusted_proxies(app_configs, **kwargs):
    warnings = []
    if settings.SECURE_PROXY_SSL_HEADER and not settings.MP_TRUSTED_PROXIES:
        warnings.append(Warning(
            "DJANGO_BEHIND_TLS_PROXY is set but MP_TRUSTED_PROXIES is empty: every client counts as the proxy's "
            "address, so one client's failed logins throttle and lock out all.",
            hint="Set MP_TRUSTED_PROXIES to the address the proxy connects from (docs/deployment.md, TLS).",
            id="core.W010"))
    if is_trusted_proxy("127.0.0.1") or is_trusted_proxy("::1"):
        warnings.append(Warning(
            "MP_TRUSTED_PROXIES includes the loopback address the agents' tunnel connects from, so an agent could "
            "name any client in X-Forwarded-For (and its requests lose the tunnel's exemptions).",
            hint="Give the proxy an address of its own (nginx: proxy_bind 127.0.0.2) and trust only that.",
            id="core.W011"))
    return warnings
