"""Request body parsers: DRF's, except that no body can make parsing fail with a 500."""
from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested deeper than the decoder's recursion limit is a 400 like any bad JSON.

    DRF turns the decoder's ValueError into ParseError, but ``json`` raises RecursionError for deep nesting
    (``[[[[...`` a few thousand levels), which would otherwise reach the exception handler as a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
