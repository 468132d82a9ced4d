"""The OpenAPI document (``/api/openapi.json``) declares the error bodies the API really sends.

FastAPI declares every request-validation failure as ``422 HTTPValidationError``
(``{"detail": [...]}``), but :mod:`lantai.web.errors` answers every error, 422 included, with the
one shape :class:`~lantai.web.api.schemas.ErrorOut` (``{ok, status, code, error, errors}``).
And every operation that takes a request body answers 400 when the body cannot be read at all
(not UTF-8, a broken multipart stream). :func:`install_openapi` rewrites the declarations once,
when the document is first built, so clients generated from the schema (and the schemathesis
fuzz run, ``tests/fuzz``) see the truth.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from lantai.web.api.schemas import ErrorOut

__all__ = ["install_openapi"]

_REF = "#/components/schemas/"
_FASTAPI_ERROR = _REF + "HTTPValidationError"


def _declare_error_bodies(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorOut" not in components:
        generated = ErrorOut.model_json_schema(ref_template=_REF + "{model}")
        components.update(generated.pop("$defs", {}))
        components["ErrorOut"] = generated
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation and "400" not in responses:
                responses["400"] = {
                    "description": "Bad Request",
                    "content": {"application/json": {"schema": {"$ref": _REF + "ErrorOut"}}},
                }
            for response in responses.values():
                body = response.get("content", {}).get("application/json", {})
                if body.get("schema", {}).get("$ref") == _FASTAPI_ERROR:
                    body["schema"] = {"$ref": _REF + "ErrorOut"}
    text = json.dumps(schema)
    for name in ("HTTPValidationError", "ValidationError"):
        if f'"{_REF}{name}"' not in text:
            components.pop(name, None)
            text = json.dumps(schema)


def install_openapi(app: FastAPI) -> None:
    """Build ``app``'s OpenAPI document with the real error bodies (see the module docs)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _declare_error_bodies(build())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
