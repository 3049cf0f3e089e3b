"""CloudStack's error codes (ApiErrorCode) and the exception the emulator raises to answer with one."""

from __future__ import annotations

UNAUTHORIZED = 401
PARAM_ERROR = 431
UNSUPPORTED_ACTION_ERROR = 432
INTERNAL_ERROR = 530

# CSExceptionErrorCode, sent as `cserrorcode`: 4350 for an InvalidParameterValueException the service
# threw (ApiServer.handleRequest wraps it keeping its code); 9999 for a ServerApiException made on its own,
# which is what the dispatch chain (ParamProcessWorker, BaseListCmd.validateSpecificParameters) throws.
CS_INVALID_PARAMETER = 4350
CS_SERVER_ERROR = 9999

# ApiServlet's answer whenever ApiServer.verifyRequest says no, an unknown command included (the command
# table is consulted before the key): HTTP 401, no cserrorcode.
AUTH_TEXT = "unable to verify user credentials and/or request signature"
# A command the caller's role does not allow (admin-only here), under the command's key.
UNKNOWN_COMMAND_TEXT = "The given command does not exist or it is not available for user"


class ApiError(Exception):
    def __init__(self, errorcode: int, errortext: str, cserrorcode: int | None = None):
        super().__init__(errortext)
        self.errorcode = errorcode
        self.errortext = errortext
        self.cserrorcode = cserrorcode

    def body(self) -> dict:
        body: dict = {"uuidList": [], "errorcode": self.errorcode}
        if self.cserrorcode is not None:
            body["cserrorcode"] = self.cserrorcode
        body["errortext"] = self.errortext
        return body


def invalid(errortext: str) -> ApiError:
    """An InvalidParameterValueException: HTTP 431, cserrorcode 4350."""
    return ApiError(PARAM_ERROR, errortext, CS_INVALID_PARAMETER)


def dispatch_error(errortext: str) -> ApiError:
    """A parameter refused while the dispatch chain reads the request: HTTP 431, cserrorcode 9999."""
    return ApiError(PARAM_ERROR, errortext, CS_SERVER_ERROR)


def internal(errortext: str) -> ApiError:
    return ApiError(INTERNAL_ERROR, errortext, CS_SERVER_ERROR)
