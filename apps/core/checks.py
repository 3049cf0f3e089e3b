"""System checks of core's own security settings (``manage.py check --deploy``)."""
from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_ssl_redirect(app_configs, **kwargs):
    # Django's security.W008 is silenced because AgentTunnelMiddleware does the redirect; this one stands for it.
    if settings.MP_SECURE_SSL_REDIRECT:
        return []
    return [Warning("DJANGO_SECURE_SSL_REDIRECT is off: plain HTTP requests (other than the agents' tunnel) are "
                    "not sent to https. Set DJANGO_SECURE_SSL_REDIRECT=1 unless the TLS proxy redirects them.",
                    id="core.W008")]
