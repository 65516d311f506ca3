"""DRF's JSON parser with the nesting limit of contactpoints.json_limits."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from contactpoints.json_limits import JSONTooDeep, load_json


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the nesting limit: the default parser of every API view."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return load_json(stream.read().decode(encoding), strict=self.strict)
        except JSONTooDeep as exc:
            raise ParseError(str(exc)) from None
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None
