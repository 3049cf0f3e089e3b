"""The CloudStack client's wire: signed calls, error mapping, paged lists and async-job polling.

Wraps the `cs` package (which signs requests). `CloudStackTransport` turns every failure into a
`CloudStackError` whose message names the cause (credentials, unreachable, not the API, refused,
job failed or timed out); secrets (secret key, signatures) never reach a log line or an error
message. `CloudStackClient` builds its resource operations on it.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cs import CloudStack, CloudStackApiException, CloudStackException

from .errors import (
    CloudStackAPIError,
    CloudStackAuthError,
    CloudStackBadResponseError,
    CloudStackCommandUnavailableError,
    CloudStackError,
    CloudStackJobError,
    CloudStackJobTimeoutError,
    CloudStackNotFoundError,
    CloudStackUnreachableError,
)

# One logger name for the whole client, as when it was one module.
log = logging.getLogger("apps.settings.cloudstack")

DEFAULT_TIMEOUT = 30
DEFAULT_JOB_TIMEOUT = 900.0
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_RETRIES = 3
JOB_PENDING, JOB_SUCCEEDED, JOB_FAILED = 0, 1, 2
_UNKNOWN_ID = "entity does not exist"
# ApiServer.commandAvailable's words when the key's role denies a command that exists.
_NOT_AVAILABLE = "is not available for user"
# What a create step records before it waits: (async job id, id of the resource being created or None).
Submitted = Callable[[str, "str | None"], None]


class _ForeignAnswer(Exception):
    """A JSON answer that is not CloudStack's: nothing of its body may reach a message (issue #13, no SSRF echo)."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _command_of(request: requests.PreparedRequest) -> str:
    body = request.body or ""
    params = parse_qs(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    params = params or parse_qs(urlsplit(request.url or "").query)
    return (params.get("command") or [""])[0]


def _answer_key(response: requests.Response | None) -> str | None:
    """The one top-level key of a CloudStack answer (`<command>response` or `errorresponse`)."""
    try:
        body = response.json() if response is not None else None
    except ValueError:
        return None
    return next(iter(body)) if isinstance(body, dict) and len(body) == 1 else None


def _check_cloudstack_answer(response: requests.Response) -> None:
    """A JSON body must be one object under `<command>response` (or `errorresponse`, CloudStack's answer to an
    unknown command), as CloudStack's API answers; anything else is refused before `cs` reads it."""
    ctype = response.headers.get("Content-Type", "")
    if not ctype.startswith(("application/json", "text/javascript")):
        return  # cs refuses it as not JSON; _bad_response names only the status and media type
    expected = {f"{_command_of(response.request).lower()}response", "errorresponse"}
    try:
        body = response.json()
    except ValueError:
        raise _ForeignAnswer(response.status_code) from None
    if not (isinstance(body, dict) and len(body) == 1 and next(iter(body)) in expected
            and isinstance(next(iter(body.values())), dict)):
        raise _ForeignAnswer(response.status_code)


class _CloudStackOnly(CloudStack):
    """`cs`'s client, reading only answers shaped like CloudStack's (a foreign server's body is never echoed)."""

    def _response_value(self, response, json=True):
        if json:
            _check_cloudstack_answer(response)
        return super()._response_value(response, json)


# A media type as a server sends it (type/subtype): the one part of a foreign answer a message may name.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}")


def _media_type(response: requests.Response | None) -> str:
    if response is None:
        return "no response"
    ctype = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
    if not ctype:
        return "no content type"
    return ctype if _MEDIA_TYPE.fullmatch(ctype) else "an unusual content type"


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (certificate or protocol)"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.Timeout):
        return "no answer within the request timeout"
    if "Name or service not known" in text or "Failed to resolve" in text or \
            "NameResolutionError" in text or "nodename nor servname" in text:
        return "host name does not resolve"
    if "Connection refused" in text:
        return "connection refused (nothing listens on that port)"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text.lower():
        return "the server closed the connection without answering"
    return "network error"


class CloudStackTransport:
    """Signed requests to one CloudStack endpoint, each failure mapped to a `CloudStackError`."""

    def __init__(self, api_url: str, api_key: str, secret_key: str, *,
                 timeout: float = DEFAULT_TIMEOUT, job_timeout: float = DEFAULT_JOB_TIMEOUT,
                 poll_interval: float = DEFAULT_POLL_INTERVAL, retries: int = DEFAULT_RETRIES,
                 verify_tls: bool = True):
        self.api_url = api_url
        self.job_timeout = job_timeout
        self.poll_interval = poll_interval
        # POST: the signed parameters travel in the body, so no proxy or urllib3 debug log
        # line ever holds the signature. cs wants whole seconds.
        self._cs = _CloudStackOnly(endpoint=api_url, key=api_key, secret=secret_key,
                                   timeout=max(1, math.ceil(timeout)), method="post",
                                   retry=retries, retry_backoff=0.5,
                                   dangerous_no_tls_verify=not verify_tls)

    def __repr__(self) -> str:
        return f"<CloudStackClient {self.api_url}>"

    # -- the wire -----------------------------------------------------------------------------

    def call(self, command: str, **params: Any) -> Any:
        """One API call; CloudStack's answer (the object under `<command>response`)."""
        for name, value in params.items():
            if isinstance(value, str) and "~" in value:
                # cs leaves '~' raw when signing, CloudStack's Java encoder does not: the
                # server would answer 401. Refuse early with the real reason.
                raise CloudStackError(f"Parameter {name} of {command} contains '~', which cannot "
                                      "be signed compatibly with CloudStack; remove it",
                                      command=command)
        started = time.monotonic()
        try:
            answer = getattr(self._cs, command)(**params)
        except _ForeignAnswer as exc:
            log.warning("cloudstack.bad_response command=%s status=%s (JSON, not CloudStack's)", command, exc.status)
            raise CloudStackBadResponseError(self.api_url, f"HTTP {exc.status}, JSON that is not a CloudStack API "
                                             "answer", exc.status, command) from None
        except CloudStackApiException as exc:
            raise self._api_error(command, exc) from None
        except CloudStackException as exc:
            raise self._bad_response(command, exc) from None
        except requests.exceptions.InvalidURL:
            raise CloudStackUnreachableError(self.api_url, "not a valid http(s) URL",
                                             command) from None
        except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise CloudStackUnreachableError(self.api_url, "the URL must start with http:// or "
                                             "https://", command) from None
        except requests.exceptions.RequestException as exc:
            log.warning("cloudstack.unreachable command=%s url=%s", command, self.api_url)
            raise CloudStackUnreachableError(self.api_url, _connection_reason(exc),
                                             command) from None
        log.debug("cloudstack.call command=%s ms=%d", command,
                  (time.monotonic() - started) * 1000)
        return answer

    def _api_error(self, command: str, exc: CloudStackApiException) -> CloudStackError:
        body = exc.error if isinstance(exc.error, dict) else {}
        status = getattr(exc.response, "status_code", None)
        code = int(body.get("errorcode") or status or 0)
        text = str(body.get("errortext") or exc)
        log.warning("cloudstack.error command=%s errorcode=%s errortext=%r", command, code, text)
        if code == 401 or status == 401:
            # The command table is consulted before the keys: `errorresponse` means the command is unknown.
            if _answer_key(exc.response) == "errorresponse":
                return CloudStackCommandUnavailableError(command, text, known=False)
            if _NOT_AVAILABLE in text:
                return CloudStackCommandUnavailableError(command, text, known=True,
                                                         cserrorcode=body.get("cserrorcode"))
            return CloudStackAuthError(
                f"CloudStack rejected the credentials for {command}: {text}. Check the API key "
                "and secret key (and this host's clock: signed requests expire)", command=command)
        if code == 431 and _UNKNOWN_ID in text:
            # The dispatcher's answer to an id it does not know: "already gone" for cleanups.
            return CloudStackNotFoundError(command, code, text, body.get("cserrorcode"))
        return CloudStackAPIError(command, code, text, body.get("cserrorcode"))

    def _bad_response(self, command: str, exc: CloudStackException) -> CloudStackError:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        # Our words only: the status and the media type, never the body nor a header's free text.
        log.warning("cloudstack.bad_response command=%s status=%s", command, status)
        return CloudStackBadResponseError(self.api_url, f"HTTP {status}, {_media_type(response)}", status, command)

    def list_all(self, command: str, **params: Any) -> list[dict]:
        """A list command, every page; [] when CloudStack answers with an empty object."""
        return self.call(command, fetch_list=True, **params)

    def submit(self, command: str, **params: Any) -> dict:
        """Start an async command; CloudStack's immediate answer: {"jobid"} (+ "id" on creates)."""
        return self.call(command, **params)

    def wait_for_job(self, jobid: str, *, command: str = "async job",
                     resource_id: str | None = None, timeout: float | None = None) -> dict:
        """Poll queryAsyncJobResult until the job ends; its jobresult on success."""
        timeout = self.job_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            job = self.call("queryAsyncJobResult", jobid=jobid)
            status = int(job.get("jobstatus", JOB_PENDING))
            if status == JOB_SUCCEEDED:
                return job.get("jobresult") or {}
            if status == JOB_FAILED:
                result = job.get("jobresult") or {}
                # jobresultcode equals jobresult.errorcode on a failed job; either names the failure.
                raise CloudStackJobError(command, jobid,
                                         int(job.get("jobresultcode") or result.get("errorcode") or 530),
                                         str(result.get("errortext") or "no error text given"),
                                         resource_id, result.get("cserrorcode"))
            if time.monotonic() + self.poll_interval > deadline:
                raise CloudStackJobTimeoutError(command, jobid, timeout, resource_id)
            time.sleep(self.poll_interval)

    def run_job(self, command: str, result_key: str | None, *,
                on_submitted: Submitted | None = None, **params: Any) -> Any:
        """Submit, wait, and return jobresult[result_key] (the whole jobresult when None).

        `on_submitted(jobid, resource_id)` is called with CloudStack's immediate answer before the
        wait starts (write-ahead): whatever happens to the wait (CloudStack unreachable, this
        process killed), the caller has recorded the job and the resource it creates.
        """
        started = time.monotonic()
        answer = self.submit(command, **params)
        if not isinstance(answer, dict) or "jobid" not in answer:
            raise CloudStackBadResponseError(self.api_url, f"{command} answered without a jobid",
                                             command=command)
        if on_submitted is not None:
            on_submitted(answer["jobid"], answer.get("id"))
        result = self.wait_for_job(answer["jobid"], command=command,
                                   resource_id=answer.get("id") or params.get("id"))
        log.info("cloudstack.job command=%s jobid=%s ms=%d", command, answer["jobid"],
                 (time.monotonic() - started) * 1000)
        return result.get(result_key) if result_key else result

    def _get_one(self, command: str, what: str, ident: str, **params: Any) -> dict:
        items = self.list_all(command, **params)
        if not items:
            raise CloudStackNotFoundError(command, 431, f"{what} {ident} not found",
                                          message=f"CloudStack has no {what} {ident}")
        return items[0]
