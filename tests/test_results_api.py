"""The results API's handler against moto: routes, pagination, delete semantics, 400s and 404s.

Requests are HTTP API (payload 2.0) events through the real Lambda handler and Powertools'
resolver; the records they read are written by the inference function's own store.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from classifier.events import from_eventbridge
from results_api.results import NotFound
from tests.api_harness import API_UPLOAD_PREFIX, call, record_prediction, results_service
from tests.function_harness import World
from tests.images import jpeg

DAY = "2026-11-25"  # the world's clock: 2026-11-25 12:00 UTC, 13:00 in Africa/Lagos


@pytest.fixture
def api(world: World) -> World:
    results_service(world)
    return world


# -- uploads --------------------------------------------------------------------------------------
def test_post_uploads_signs_one_fresh_key_with_type_and_size_pinned(api: World) -> None:
    status, grant = call("POST", "/uploads", body={"content_type": "image/png"})

    assert status == 201
    assert grant["key"].startswith(f"{API_UPLOAD_PREFIX}{DAY}/") and grant["key"].endswith(".png")
    assert grant["fields"]["key"] == grant["key"]
    assert grant["fields"]["Content-Type"] == "image/png"
    assert (grant["max_bytes"], grant["expires_in"]) == (5 * 1024 * 1024, 120)
    policy = json.loads(base64.b64decode(grant["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, 5 * 1024 * 1024] in conditions
    assert {"key": grant["key"]} in conditions and {"bucket": api.bucket} in conditions
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 120


def test_each_upload_grant_gets_its_own_key_and_jpeg_is_the_default(api: World) -> None:
    keys = {call("POST", "/uploads")[1]["key"] for _ in range(3)}

    assert len(keys) == 3 and all(k.endswith(".jpg") for k in keys)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"content_type": "application/pdf"}, "content_type"),
        ("{not json", "body"),
        ({"content_type": 7}, "content_type"),
        (b"\xff\xfe\x00 not utf-8", "body"),
    ],
)
def test_post_uploads_refuses_what_the_function_could_not_classify(api: World, body: object, named: str) -> None:
    status, problem = call("POST", "/uploads", body=body)

    assert status == 400
    assert named in problem["message"]


# -- listing ----------------------------------------------------------------------------------------
def test_a_days_predictions_come_back_in_pages_without_loss_or_repeat(api: World) -> None:
    ids = {record_prediction(api, f"uploads/cam/{i}.jpg", ("AAW", "FAW", "REJECTED")[i % 3]) for i in range(7)}
    seen: list[str] = []
    token = None

    while True:
        query = {"date": DAY, "limit": 3, **({"next": token} if token else {})}
        status, page = call("GET", "/predictions", query)
        assert status == 200 and len(page["items"]) <= 3
        seen += [item["id"] for item in page["items"]]
        token = page["next"]
        if token is None:
            break

    assert sorted(seen) == sorted(ids)


def test_a_prediction_shows_its_record_and_a_presigned_url_for_its_version(api: World) -> None:
    prediction_id = record_prediction(api, "uploads/cam/moth.jpg", "FAW")

    status, page = call("GET", "/predictions", {"date": DAY})

    (item,) = page["items"]
    assert status == 200
    assert (item["id"], item["status"], item["class_name"], item["count"]) == (prediction_id, "CLASSIFIED", "FAW", 1)
    assert (item["confidence"], item["confidence_score"]) == (0.8, "80%")
    assert item["probabilities"]["FAW"] == 0.8
    url = urlparse(item["image_url"])
    params = parse_qs(url.query)
    assert url.path.endswith("/uploads/cam/moth.jpg")
    assert params["versionId"] == [item["version_id"]]
    assert params["X-Amz-Expires"] == ["120"] and "X-Amz-Signature" in params


def test_class_filter_uses_the_sort_key_and_rejections_have_their_own(api: World) -> None:
    faw = {record_prediction(api, f"uploads/cam/faw-{i}.jpg", "FAW") for i in range(2)}
    rejected = record_prediction(api, "uploads/cam/broken.jpg", "REJECTED")
    record_prediction(api, "uploads/cam/aaw.jpg", "AAW")

    only_faw = call("GET", "/predictions", {"date": DAY, "class": "FAW"})[1]["items"]
    only_rejected = call("GET", "/predictions", {"date": DAY, "class": "REJECTED"})[1]["items"]

    assert {i["id"] for i in only_faw} == faw
    assert [(i["id"], i["status"], i["reason"]) for i in only_rejected] == [(rejected, "REJECTED", "NOT_AN_IMAGE")]


def test_another_day_is_another_partition(api: World) -> None:
    record_prediction(api, "uploads/cam/today.jpg", "AAW")
    record_prediction(api, "uploads/cam/yesterday.jpg", "AAW", when=datetime(2026, 11, 24, 9, tzinfo=UTC))

    today = call("GET", "/predictions", {"date": DAY})[1]["items"]
    yesterday = call("GET", "/predictions", {"date": "2026-11-24"})[1]["items"]
    default = call("GET", "/predictions")[1]["items"]

    assert [i["object_key"] for i in today] == ["uploads/cam/today.jpg"] == [i["object_key"] for i in default]
    assert [i["object_key"] for i in yesterday] == ["uploads/cam/yesterday.jpg"]


def _token(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"date": "2026-13-01"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"date": "2026-02-30"}, "date"),
        ({"class": "MOTH"}, "class"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"next": "not-a-token"}, "next"),
        ({"next": "x" * 3000}, "next"),
        ({"next": _token('{"d":"2026-11-25","s":"\\ud800"}')}, "next"),  # a lone surrogate: not UTF-8
        ({"next": _token(json.dumps({"d": "2026-11-25", "s": "é" * 600}))}, "next"),  # 1200 bytes
        ({"next": _token('{"d":"2026-11-25","s":7}')}, "next"),
    ],
)
def test_bad_listing_parameters_get_400_naming_the_parameter(api: World, query: dict, named: str) -> None:
    status, problem = call("GET", "/predictions", query)

    assert status == 400
    assert problem["message"].startswith(named) or f"{named}:" in problem["message"], problem


def test_a_token_cannot_be_replayed_against_another_day_or_class(api: World) -> None:
    for i in range(3):
        record_prediction(api, f"uploads/cam/{i}.jpg", "FAW")
    token = call("GET", "/predictions", {"date": DAY, "limit": 1})[1]["next"]

    other_day = call("GET", "/predictions", {"date": "2026-11-24", "next": token})
    other_class = call("GET", "/predictions", {"date": DAY, "class": "AAW", "next": token})

    assert other_day[0] == other_class[0] == 400
    assert "next" in other_day[1]["message"]


# -- one prediction, delete -------------------------------------------------------------------------
def test_get_one_prediction_by_id_and_404_for_unknown_ones(api: World) -> None:
    prediction_id = record_prediction(api, "uploads/cam/moth.jpg", "ECLW")

    status, item = call("GET", f"/predictions/{prediction_id}")
    missing = call("GET", f"/predictions/{'0' * 32}")
    malformed = call("GET", "/predictions/not-an-id")

    assert status == 200 and (item["id"], item["class_name"]) == (prediction_id, "ECLW")
    assert missing[0] == 404 and "0" * 32 in missing[1]["message"]
    assert malformed[0] == 400 and "id" in malformed[1]["message"]


def test_delete_removes_the_record_and_takes_it_off_the_days_count(api: World) -> None:
    keep = record_prediction(api, "uploads/cam/1.jpg", "FAW")
    gone = record_prediction(api, "uploads/cam/2.jpg", "FAW")
    before = call("GET", "/counts", {"date": DAY})[1]

    status, body = call("DELETE", f"/predictions/{gone}")

    after = call("GET", "/counts", {"date": DAY})[1]
    assert (status, body) == (204, None)
    assert (before["counts"]["FAW"], after["counts"]["FAW"]) == (2, 1)
    assert call("GET", f"/predictions/{gone}")[0] == 404
    assert call("DELETE", f"/predictions/{gone}")[0] == 404
    assert [i["id"] for i in call("GET", "/predictions", {"date": DAY})[1]["items"]] == [keep]
    # The records still stored keep the count they were given.
    assert call("GET", f"/predictions/{keep}")[1]["count"] == 1


def test_a_deleted_upload_is_not_recorded_again_when_its_event_comes_back(api: World) -> None:
    event = api.upload("uploads/cam/moth.jpg", jpeg())
    (first,) = api.service.process([from_eventbridge(event)])
    assert first.record is not None
    prediction_id = first.record["PredictionId"]
    assert call("DELETE", f"/predictions/{prediction_id}")[0] == 204

    (again,) = api.service.process([from_eventbridge(event)])

    assert again.status == "DUPLICATE"
    assert call("GET", "/counts", {"date": DAY})[1]["total"] == 0
    assert call("GET", "/predictions", {"date": DAY})[1]["items"] == []


def test_a_class_deleted_down_to_zero_is_counted_again_by_the_next_upload(api: World) -> None:
    only = record_prediction(api, "uploads/cam/1.jpg", "FAW")
    assert call("DELETE", f"/predictions/{only}")[0] == 204
    assert call("GET", "/counts", {"date": DAY})[1]["counts"]["FAW"] == 0

    again = record_prediction(api, "uploads/cam/2.jpg", "FAW")

    assert call("GET", "/counts", {"date": DAY})[1]["counts"]["FAW"] == 1
    assert call("GET", f"/predictions/{again}")[1]["count"] == 1


def test_a_delete_that_loses_a_race_is_a_404_not_an_error(api: World) -> None:
    prediction_id = record_prediction(api, "uploads/cam/1.jpg", "FAW")
    service = results_service(api)
    stale = service._claim(prediction_id)  # what a concurrent DELETE read before this one committed
    assert call("DELETE", f"/predictions/{prediction_id}")[0] == 204
    reads = iter([stale])
    real_claim = service._claim
    service._claim = lambda digest: next(reads, None) or real_claim(digest)  # type: ignore[method-assign]

    with pytest.raises(NotFound):
        service.delete_prediction(prediction_id)

    assert call("GET", "/counts", {"date": DAY})[1]["counts"]["FAW"] == 0  # decremented once


def test_deleting_a_rejection_takes_it_off_the_rejected_count(api: World) -> None:
    rejected = record_prediction(api, "uploads/cam/broken.jpg", "REJECTED")

    assert call("DELETE", f"/predictions/{rejected}")[0] == 204

    assert call("GET", "/counts", {"date": DAY})[1]["rejected"] == 0


# -- counts -----------------------------------------------------------------------------------------
def test_counts_list_every_class_with_rejections_apart(api: World) -> None:
    for i, name in enumerate(("FAW", "FAW", "AAW", "REJECTED")):
        record_prediction(api, f"uploads/cam/{i}.jpg", name)

    status, counts = call("GET", "/counts", {"date": DAY})

    assert status == 200
    assert counts == {"date": DAY, "counts": {"AAW": 1, "ECLW": 0, "FAW": 2}, "total": 3, "rejected": 1}


def test_counts_of_a_day_without_uploads_are_zero(api: World) -> None:
    status, counts = call("GET", "/counts", {"date": "2025-01-01"})

    assert status == 200 and counts["total"] == 0 and set(counts["counts"].values()) == {0}


# -- the whole surface ------------------------------------------------------------------------------
def test_no_route_ever_scans_the_table(api: World) -> None:
    operations: list[str] = []
    api.dynamodb.meta.events.register("before-call.dynamodb.*", lambda model, **_: operations.append(model.name))
    prediction_id = record_prediction(api, "uploads/cam/moth.jpg", "FAW")

    call("GET", "/predictions", {"date": DAY})
    call("GET", "/predictions", {"date": DAY, "class": "FAW"})
    call("GET", f"/predictions/{prediction_id}")
    call("GET", "/counts", {"date": DAY})
    call("DELETE", f"/predictions/{prediction_id}")

    assert "Scan" not in operations
    assert {"Query", "GetItem", "TransactWriteItems"} <= set(operations)


def test_the_openapi_document_describes_every_route_and_parameter(api: World) -> None:
    status, document = call("GET", "/openapi.json")

    assert status == 200 and document["openapi"].startswith("3.")
    paths = document["paths"]
    assert set(paths) == {"/uploads", "/predictions", "/predictions/{prediction_id}", "/counts"}
    assert set(paths["/predictions/{prediction_id}"]) == {"get", "delete"}
    listed = {p["name"] for p in paths["/predictions"]["get"]["parameters"]}
    assert listed == {"date", "class", "limit", "next"}
    assert "400" in paths["/predictions"]["get"]["responses"]
    assert "404" in paths["/predictions/{prediction_id}"]["delete"]["responses"]
    assert "201" in paths["/uploads"]["post"]["responses"]
    assert "Prediction" in document["components"]["schemas"]


def test_unknown_routes_are_404(api: World) -> None:
    assert call("GET", "/nothing-here")[0] == 404
