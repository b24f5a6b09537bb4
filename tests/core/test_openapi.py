"""The OpenAPI document is true to the routes: every API route and method is described,
nothing described is missing, and the document is valid OpenAPI 3."""

from openapi_spec_validator import validate

from app.core.openapi import implemented_methods, openapi_path
from tests.conftest import Client


def _api_routes(application) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in application.wildcard_router.rules:
        pattern = rule.matcher.regex.pattern
        if pattern.startswith("/api/"):
            routes[openapi_path(pattern)] = set(implemented_methods(rule.target))
    return routes


def test_document_is_valid_openapi(client: Client) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    validate(response.json())


def test_every_api_route_and_method_is_described_and_nothing_else(application) -> None:
    document = application.settings["openapi"]
    described = {path: set(item) for path, item in document["paths"].items()}
    assert described == _api_routes(application)


def test_every_operation_has_a_chinese_summary(application) -> None:
    for path, item in application.settings["openapi"]["paths"].items():
        for method, operation in item.items():
            assert operation["summary"], f"{method.upper()} {path} 缺少说明"
