"""Bad input, generated from the API's own OpenAPI document: always a 4xx with a message, never a 500."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_harness import call, record_prediction, results_service
from tests.function_harness import World

# Text that tends to break parsers: digits and dashes (near-dates), unicode, separators, huge numbers.
NASTY = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"-?\d{1,6}(-\d{1,3}){0,3}", fullmatch=True),
    st.sampled_from(["", " ", "null", "None", "[]", "{}", "0", "-1", "1e309", "2026-11-25T00:00", "FAW#x", "%00"]),
    st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _query_routes(document: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(path, query parameter names) for every GET route without path parameters."""
    routes = []
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get is not None and "{" not in path:
            routes.append((path, [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]))
    return routes


def _assert_handled(status: int, body: Any, allowed: set[int]) -> None:
    assert status in allowed, (status, body)
    if status >= 400:
        assert isinstance(body, dict) and body.get("message"), body


def test_query_parameters_from_the_schema(world: World) -> None:
    results_service(world)
    record_prediction(world, "uploads/cam/moth.jpg", "FAW")
    routes = _query_routes(call("GET", "/openapi.json")[1])
    assert {path for path, _ in routes} == {"/predictions", "/counts"}

    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        path, names = data.draw(st.sampled_from(routes))
        chosen = data.draw(st.lists(st.sampled_from(names), unique=True)) if names else []
        query = {name: data.draw(NASTY) for name in chosen}
        status, body = call("GET", path, query)
        _assert_handled(status, body, {200, 400})

    check()


def test_path_parameters_and_upload_bodies(world: World) -> None:
    results_service(world)

    @FUZZ
    @given(
        method=st.sampled_from(["GET", "DELETE"]),
        identifier=NASTY.filter(lambda s: s and "/" not in s and "?" not in s and "#" not in s),
        body=st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(["content_type", "size", "key"]), st.one_of(NASTY, st.integers())),
            NASTY,
        ),
    )
    def check(method: str, identifier: str, body: Any) -> None:
        status, problem = call(method, f"/predictions/{identifier}")
        _assert_handled(status, problem, {400, 404})
        status, grant = call("POST", "/uploads", body=body)
        _assert_handled(status, grant, {201, 400})

    check()
