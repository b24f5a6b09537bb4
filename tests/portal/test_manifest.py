"""The phone install: the web app manifest and the service worker the portal links to."""

from __future__ import annotations

import json

from tests.conftest import Client


def test_manifest_is_valid_and_its_icons_load(client: Client) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    manifest = json.loads(response.content.decode("utf-8"))
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/"
    assert manifest["display"] in {"standalone", "fullscreen", "minimal-ui"}
    assert manifest["icons"], "清单中没有图标"
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/")
        image = client.get(icon["src"])
        assert image.status_code == 200, icon["src"]
        assert image.headers["Content-Type"].startswith(icon["type"].split(";")[0])


def test_service_worker_is_served_from_the_root_scope(client: Client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["Content-Type"]
    assert "addEventListener" in response.text
    # the worker never caches pages or API answers, only the static shell
    assert '"/static/' in response.text
