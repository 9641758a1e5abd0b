"""Product images: accepted by content, bounded in size, stored per shop,
served on the shop's host and listed with the product."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.catalog.support import (
    GIF_1X1,
    JPEG_HEAD,
    PNG_1X1,
    WEBP_HEAD,
    product,
    upload_files,
)


@pytest.fixture
def product_id(shop, in_shop):
    return in_shop(shop, product, "Steam ¥100")


def test_a_png_is_stored_served_and_listed(app, shop, api, api_for, product_id):
    response = api.upload(product_id, PNG_1X1)

    assert response.status_code == 201, response.get_json()
    image = response.get_json()
    assert image["content_type"] == "image/png" and image["size"] == len(PNG_1X1)
    stored = Path(app.instance_path) / "uploads" / str(shop.tenant_id) / f"{image['id']}.png"
    assert stored.read_bytes() == PNG_1X1
    assert image["url"] == f"http://{shop.host}/media/{image['id']}"

    served = api_for(shop, key=None).get(f"/media/{image['id']}")
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.data == PNG_1X1
    assert served.headers["X-Content-Type-Options"] == "nosniff"

    public = api_for(shop, key=None).get(f"/api/v1/products/{product_id}").get_json()
    assert [i["url"] for i in public["images"]] == [image["url"]]


@pytest.mark.parametrize(
    "data, content_type, ext",
    [
        (JPEG_HEAD, "image/jpeg", "jpg"),
        (GIF_1X1, "image/gif", "gif"),
        (WEBP_HEAD, "image/webp", "webp"),
    ],
)
def test_the_type_comes_from_the_content_not_the_name(
    app, shop, api, product_id, data, content_type, ext
):
    response = api.upload(product_id, data, filename="picture.txt")

    assert response.status_code == 201
    assert response.get_json()["content_type"] == content_type
    assert upload_files(app, shop.tenant_id) == [f"{response.get_json()['id']}.{ext}"]


def test_a_png_that_is_really_text_is_refused(app, shop, api, product_id):
    response = api.upload(product_id, b"<html><script>alert(1)</script></html>", "evil.png")

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {"file": ["Not a PNG, JPEG, WebP or GIF image."]}
    assert upload_files(app, shop.tenant_id) == []
    assert api.get(f"/api/v1/products/{product_id}").get_json()["images"] == []


def test_an_image_over_the_size_limit_is_refused(app, shop, api, product_id):
    limit = app.config["UPLOAD_MAX_IMAGE_BYTES"]
    assert limit == 2 * 1024 * 1024
    too_large = PNG_1X1 + b"\x00" * (limit + 1 - len(PNG_1X1))

    response = api.upload(product_id, too_large)

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert "file" in response.get_json()["errors"]
    assert upload_files(app, shop.tenant_id) == []
    exactly = api.upload(product_id, too_large[:limit])
    assert exactly.status_code == 201


def test_an_upload_without_a_file_is_a_field_error(api, product_id):
    response = api.post(
        f"/api/v1/products/{product_id}/images",
        data={"picture": "none"},
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert "file" in response.get_json()["errors"]


def test_a_product_holds_at_most_ten_images(api, product_id):
    for _ in range(10):
        assert api.upload(product_id, PNG_1X1).status_code == 201

    response = api.upload(product_id, PNG_1X1)

    assert response.status_code == 409


def test_deleting_an_image_removes_the_file_and_the_address(app, shop, api, api_for, product_id):
    image = api.upload(product_id, PNG_1X1).get_json()

    response = api.delete(f"/api/v1/products/{product_id}/images/{image['id']}")

    assert response.status_code == 204
    assert upload_files(app, shop.tenant_id) == []
    assert api_for(shop, key=None).get(f"/media/{image['id']}").status_code == 404
    assert api.delete(f"/api/v1/products/{product_id}/images/{image['id']}").status_code == 404


def test_deleting_a_product_removes_its_image_files(app, shop, api, product_id):
    api.upload(product_id, PNG_1X1)
    api.upload(product_id, GIF_1X1)

    assert api.delete(f"/api/v1/products/{product_id}").status_code == 204

    assert upload_files(app, shop.tenant_id) == []


def test_uploads_need_an_operator(app, shop, api_for, product_id):
    response = api_for(shop, key=None).upload(product_id, PNG_1X1)

    assert response.status_code == 401
    assert upload_files(app, shop.tenant_id) == []
    assert api_for(shop).get(f"/api/v1/products/{product_id}").get_json()["images"] == []
