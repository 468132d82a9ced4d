"""The OpenAPI document (``/api/openapi.json``) declares the error bodies the API really sends.

FastAPI declares every request-validation failure as ``422 HTTPValidationError``
(``{"detail": [...]}``), but :mod:`lantai.web.errors` answers every error, 422 included, with the
one shape :class:`~lantai.web.api.schemas.ErrorOut` (``{ok, status, code, error, errors}``).
And every operation that takes a request body answers 400 when the body cannot be read at all
(not UTF-8, a broken multipart stream). :func:`install_openapi` rewrites the declarations once,
when the document is first built, so clients generated from the schema (and the schemathesis
fuzz run, ``tests/fuzz``) see the truth.

A route that reads its query string itself (the search routes: one pydantic call instead of
FastAPI's per-parameter validation) declares ``openapi_extra=documented_query(signature)``; the
document then lists the parameters of ``signature`` exactly as FastAPI lists a route's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from lantai.web.api.schemas import ErrorOut

__all__ = ["documented_query", "install_openapi"]

_REF = "#/components/schemas/"
_FASTAPI_ERROR = _REF + "HTTPValidationError"


def documented_query(signature: Callable[..., Any]) -> dict[str, Any]:
    """``openapi_extra`` of a route: its query parameters are those ``signature`` declares, as
    FastAPI documents a route's own (:func:`install_openapi` puts them in the same place)."""
    doc = get_openapi(title="", version="", routes=[APIRoute("/", signature, methods=["GET"])])
    return {"parameters": doc["paths"]["/"]["get"]["parameters"]}


def _parameters_first(schema: dict[str, Any]) -> None:
    """``openapi_extra`` lands last in an operation: put its parameters where FastAPI puts them."""
    for item in schema.get("paths", {}).values():
        for method, operation in list(item.items()):
            if not isinstance(operation, dict) or "parameters" not in operation:
                continue
            keys = list(operation)
            body = [k for k in ("requestBody", "responses") if k in keys]
            if body and keys.index("parameters") > keys.index(body[0]):
                parameters = operation.pop("parameters")
                rebuilt: dict[str, Any] = {}
                for key, value in operation.items():
                    if key == body[0]:
                        rebuilt["parameters"] = parameters
                    rebuilt[key] = value
                item[method] = rebuilt


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
            schema = build()
            _parameters_first(schema)
            _declare_error_bodies(schema)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
