"""The results API end to end on the local cloud: presigned upload -> classified -> read back over HTTP.

The API function runs in its own process under its declared role (every AWS call checked), behind
the local API gateway; uploads go to moto with the presigned POST, held to its signed policy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from classifier.events import UploadedObject
from classifier.records import object_digest
from local.cloud import LocalCloud
from local.iam_report import IamReport
from local.results import Results
from local.server import local_client
from tests.images import jpeg
from tests.test_local_cloud import e2e_model, start_cloud  # noqa: F401 - e2e_model is a fixture

pytestmark = [pytest.mark.enable_socket, pytest.mark.slow]


@pytest.fixture(scope="module")
def cloud(e2e_model: str) -> Iterator[LocalCloud]:
    running = start_cloud(e2e_model, **{"image-classifier:maxImageBytes": "200000"})
    yield running
    running.stop()
    running.cleanup()


def api(cloud: LocalCloud) -> str:
    url = cloud.summary()["api_url"]
    assert url, "the local cloud serves the API"
    return str(url)


def upload_through_api(
    cloud: LocalCloud, data: bytes, content_type: str = "image/jpeg"
) -> tuple[dict, requests.Response]:
    grant = requests.post(f"{api(cloud)}/uploads", json={"content_type": content_type}, timeout=30)
    assert grant.status_code == 201, grant.text
    post = grant.json()
    sent = requests.post(post["url"], data=post["fields"], files={"file": ("photo", data, content_type)}, timeout=30)
    return post, sent


def wait_recorded(cloud: LocalCloud, key: str, timeout: float = 60) -> dict[str, Any]:
    summary = cloud.summary()
    version = local_client("s3", summary["endpoint_url"], summary["region"]).head_object(
        Bucket=summary["bucket"], Key=key
    )["VersionId"]
    digest = object_digest(UploadedObject(summary["bucket"], key, version, None, None, None))
    results = Results(local_client("dynamodb", summary["endpoint_url"], summary["region"]), summary["table"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claim = results.claim(digest)
        if claim is not None:
            return {"id": digest, **claim}
        time.sleep(0.2)
    raise AssertionError(f"{key} was never recorded")


def test_an_upload_through_the_api_is_classified_and_read_back(cloud: LocalCloud) -> None:
    photo = jpeg()
    post, sent = upload_through_api(cloud, photo)
    assert sent.status_code == 204, sent.text

    recorded = wait_recorded(cloud, post["key"])
    day = recorded["RecordDate"]
    one = requests.get(f"{api(cloud)}/predictions/{recorded['id']}", timeout=30)
    listed = requests.get(f"{api(cloud)}/predictions", params={"date": day}, timeout=30)
    counts = requests.get(f"{api(cloud)}/counts", params={"date": day}, timeout=30)

    assert one.status_code == 200 and one.json()["object_key"] == post["key"]
    assert one.json()["status"] == "CLASSIFIED"
    assert recorded["id"] in [item["id"] for item in listed.json()["items"]]
    assert counts.json()["counts"][one.json()["class_name"]] >= 1
    image = requests.get(one.json()["image_url"], timeout=30)
    assert image.status_code == 200 and image.content == photo


def test_pages_over_http_cover_the_day_once(cloud: LocalCloud) -> None:
    ids = set()
    for seed in (11, 12, 13):
        post, sent = upload_through_api(cloud, jpeg(seed=seed))
        assert sent.status_code == 204
        recorded = wait_recorded(cloud, post["key"])
        ids.add(recorded["id"])
    day = recorded["RecordDate"]
    seen: list[str] = []
    token = None

    while True:
        params = {"date": day, "limit": 1, **({"next": token} if token else {})}
        page = requests.get(f"{api(cloud)}/predictions", params=params, timeout=30).json()
        seen += [item["id"] for item in page["items"]]
        token = page["next"]
        if token is None:
            break

    assert ids <= set(seen) and len(seen) == len(set(seen))


def test_delete_over_http_takes_the_prediction_off_the_count(cloud: LocalCloud) -> None:
    post, _ = upload_through_api(cloud, jpeg(seed=5))
    recorded = wait_recorded(cloud, post["key"])
    day, class_name = recorded["RecordDate"], recorded["RecordId"].split("#")[0]
    before = requests.get(f"{api(cloud)}/counts", params={"date": day}, timeout=30).json()["counts"][class_name]

    deleted = requests.delete(f"{api(cloud)}/predictions/{recorded['id']}", timeout=30)

    after = requests.get(f"{api(cloud)}/counts", params={"date": day}, timeout=30).json()["counts"][class_name]
    assert deleted.status_code == 204
    assert after == before - 1
    assert requests.get(f"{api(cloud)}/predictions/{recorded['id']}", timeout=30).status_code == 404
    assert requests.delete(f"{api(cloud)}/predictions/{recorded['id']}", timeout=30).status_code == 404


def test_the_signed_policy_holds_size_and_type(cloud: LocalCloud) -> None:
    too_big, refused = upload_through_api(cloud, b"\xff\xd8" + b"0" * 300_000)
    grant = requests.post(f"{api(cloud)}/uploads", json={"content_type": "image/jpeg"}, timeout=30).json()
    wrong_type = requests.post(
        grant["url"],
        data={**grant["fields"], "Content-Type": "text/html"},
        files={"file": ("page", b"<html>", "text/html")},
        timeout=30,
    )

    assert refused.status_code == 400 and "EntityTooLarge" in refused.text
    assert wrong_type.status_code == 403 and "$content-type" in wrong_type.text.lower()
    summary = cloud.summary()
    s3 = local_client("s3", summary["endpoint_url"], summary["region"])
    for key in (too_big["key"], grant["key"]):
        assert "Contents" not in s3.list_objects_v2(Bucket=summary["bucket"], Prefix=key)


def test_http_errors_are_400_and_404_with_messages(cloud: LocalCloud) -> None:
    bad_date = requests.get(f"{api(cloud)}/predictions", params={"date": "2026-02-30"}, timeout=30)
    bad_class = requests.get(f"{api(cloud)}/counts", params={"date": "someday"}, timeout=30)
    unknown = requests.get(f"{api(cloud)}/predictions/{'f' * 32}", timeout=30)
    no_route = requests.get(f"{api(cloud)}/nowhere", timeout=30)

    assert bad_date.status_code == 400 and bad_date.json()["message"].startswith("date")
    assert bad_class.status_code == 400 and "date" in bad_class.json()["message"]
    assert unknown.status_code == 404 and unknown.json()["message"]
    assert no_route.status_code == 404
    document = requests.get(f"{api(cloud)}/openapi.json", timeout=30).json()
    assert "/predictions/{prediction_id}" in document["paths"]


def test_the_api_function_stayed_inside_its_role(cloud: LocalCloud) -> None:
    requests.get(f"{api(cloud)}/counts", timeout=30)
    assert cloud.resources is not None and cloud.resources.api is not None

    report = IamReport.from_run(cloud.resources.api.role_policies, cloud.run_dir, pattern="iam-usage-api*.jsonl")

    assert report.used, "the API made AWS calls under its role"
    assert not report.denied
    assert {"dynamodb:Query", "dynamodb:GetItem"} <= report.used
