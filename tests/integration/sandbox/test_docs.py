"""The partner documentation in the sandbox portal: our specs served as they are, the OBIE ones exactly as the
gateway serves them, Swagger UI from packaged assets under a CSP without inline script, the getting-started
guide including its example files verbatim."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.contract.policies.routes import declared_operations
from gateway.contract.specs import OpenApiSpecs
from gateway.contract.specs import load_specs
from gateway.contract.specs import read_yaml
from gateway.settings import REPO_ROOT
from sandbox import docs


@pytest.mark.parametrize("name", sorted(set(docs.SPECS) - docs.OBIE_SPECS))
async def test_our_own_specs_are_served_byte_for_byte_as_yaml(sandbox: httpx.AsyncClient, name: str) -> None:
    response = await sandbox.get(f"/portal/specs/{name}.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.content == (REPO_ROOT / "openapi" / docs.SPECS[name][0]).read_bytes()
    assert yaml.safe_load(response.content)["openapi"].startswith("3.0")


OBIE_APIS = {"account-info": "accounts", "payment-initiation": "payments", "confirmation-funds": "funds", "vrp": "vrp"}


@pytest.mark.parametrize("name", sorted(docs.OBIE_SPECS))
async def test_each_obie_spec_is_the_document_the_gateway_serves(
    sandbox: httpx.AsyncClient, tmp_path: Path, name: str
) -> None:
    # Same operations the gateway answers: the official file cut to policies/routes.yaml, nothing else changed.
    response = await sandbox.get(f"/portal/specs/{name}.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    served = response.content.decode()
    assert served.startswith("# The official OBIE file ")
    gateway = _gateway_specs().apis[OBIE_APIS[name]]
    assert gateway.file == REPO_ROOT / "openapi" / docs.SPECS[name][0]
    (tmp_path / "served.yaml").write_bytes(response.content)
    assert read_yaml(tmp_path / "served.yaml") == gateway.document  # as the gateway parses YAML
    assert gateway.document["paths"], name


@functools.cache
def _gateway_specs() -> OpenApiSpecs:
    return load_specs(REPO_ROOT / "openapi", declared=declared_operations(REPO_ROOT / "policies"))


async def test_serving_a_spec_reads_and_derives_nothing(
    sandbox: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Built when the routes were made; a request only picks the bytes.
    expected = docs.documents()["payment-initiation"]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a document was read or derived while answering a request")

    monkeypatch.setattr(yaml, "load", refuse)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(Path, "open", refuse)
    response = await sandbox.get("/portal/specs/payment-initiation.yaml")
    assert response.status_code == 200
    assert response.content == expected


async def test_an_unknown_spec_is_404_naming_the_index(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.get("/portal/specs/secrets.yaml")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "/portal/docs" in response.json()["error_description"]


async def test_the_reference_page_loads_packaged_swagger_ui_without_inline_script(sandbox: httpx.AsyncClient) -> None:
    page = await sandbox.get("/portal/docs/reference/account-info")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all(body.strip() == "" and 'src="/portal/static/' in attrs for attrs, body in scripts)
    assert 'data-spec-url="/portal/specs/account-info.yaml"' in page.text
    for asset in re.findall(r'(?:src|href)="(/portal/static/[^"]+)"', page.text):
        fetched = await sandbox.get(asset)
        assert fetched.status_code == 200, asset
        assert fetched.content == (REPO_ROOT / "sandbox" / "static" / asset.rsplit("/", 1)[1]).read_bytes()


async def test_no_page_or_asset_refers_to_another_origin(sandbox: httpx.AsyncClient) -> None:
    # No network at run time: every script and stylesheet comes from this origin.
    for path in ("/portal/docs", "/portal/docs/getting-started", "/portal/docs/reference/oauth"):
        page = await sandbox.get(path)
        assert not re.findall(r'(?:src|href)="https?://(?!127\.0\.0\.1)', page.text), path


async def test_swagger_ui_licence_is_shipped(sandbox: httpx.AsyncClient) -> None:
    licence = await sandbox.get("/portal/static/swagger-ui-LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text


async def test_static_files_outside_the_list_are_404(sandbox: httpx.AsyncClient) -> None:
    for name in ("app.py", "portal-secret", "swagger-ui.css.map"):
        response = await sandbox.get(f"/portal/static/{name}")
        assert response.status_code == 404, name
        assert response.json()["error"] == "not_found"
    # A path separator never reaches the handler: the router has no route for it.
    assert (await sandbox.get("/portal/static/..%2Fapp.py")).status_code == 404


async def test_unknown_reference_is_404(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.get("/portal/docs/reference/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_the_index_links_every_reference_and_document(sandbox: httpx.AsyncClient) -> None:
    page = await sandbox.get("/portal/docs")
    assert page.status_code == 200
    for name in docs.SPECS:
        assert f'href="/portal/docs/reference/{name}"' in page.text
        assert f'href="/portal/specs/{name}.yaml"' in page.text
    assert 'lang="en"' in page.text and "<caption>" in page.text


async def test_getting_started_includes_each_example_file_verbatim(sandbox: httpx.AsyncClient) -> None:
    import html

    page = await sandbox.get("/portal/docs/getting-started")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for name in docs.EXAMPLES:
        assert (REPO_ROOT / "sandbox" / "docs" / name).read_text() in text, name
    assert 'id="first-payment"' in page.text


async def test_getting_started_lists_the_test_customers(sandbox: httpx.AsyncClient) -> None:
    page = await sandbox.get("/portal/docs/getting-started")
    psus = (await sandbox.get("/portal/api/psus")).json()["psus"]
    assert psus
    for psu in psus:
        assert f"<td>{psu['username']}</td><td>{psu['password']}</td>" in page.text


async def test_the_guide_shows_the_first_payment_example_verbatim(sandbox) -> None:  # type: ignore[no-untyped-def]
    import html

    from sandbox.docs import example

    page = await sandbox.get("/portal/docs/getting-started")
    assert page.status_code == 200
    assert example("first_payment.py") in html.unescape(page.text)


async def test_the_guide_shows_the_first_vrp_example_verbatim(sandbox) -> None:  # type: ignore[no-untyped-def]
    import html

    from sandbox.docs import example

    page = await sandbox.get("/portal/docs/getting-started")
    assert page.status_code == 200
    assert 'id="first-vrp"' in page.text
    assert example("first_vrp.py") in html.unescape(page.text)
