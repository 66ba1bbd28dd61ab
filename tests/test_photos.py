"""Device photos: checked by opening them, shrunk to small WebP variants without metadata, stored
under random names, served with long cache headers and shown in the catalog at no extra query."""

import io
import os
import random
import re
import time

import pytest
import sqlalchemy as sa
from PIL import Image
from flask_babel import force_locale
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from shop.models import AuditEntry, Device, DevicePhoto, DeviceStatus, Role
from shop.services import catalog, photos
from shop.services.errors import DomainError
from tests import factories
from tests.test_staff import EN

FOUR_MB = 4 * 1024 * 1024


def noisy_jpeg(width=3000, height=2000, grain=2, orientation=6) -> bytes:
    """A camera-like JPEG of about 5 MB: coloured noise, quality 95, EXIF with a GPS position."""
    # Seeded noise: the same bytes, so the same file size and variant sizes, on every run.
    noise = random.Random(f"{width}x{height}/{grain}").randbytes((width // grain) * (height // grain) * 3)
    small = Image.frombytes("RGB", (width // grain, height // grain), noise)
    image = small.resize((width, height), Image.Resampling.BILINEAR)
    exif = Image.Exif()
    exif[0x0112] = orientation  # "rotate 90° to show upright"
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {1: "N", 2: (48.0, 7.0, 0.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def png(width=40, height=20, mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (255, 0, 0, 128) if mode == "RGBA" else "red").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def uploads(app, tmp_path):
    previous = app.config["UPLOAD_FOLDER"]
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = previous


@pytest.fixture
def shop(db, uploads):
    metz, woippy = factories.pickup_point(name="Metz"), factories.pickup_point(name="Woippy")
    staff = factories.user(Role.STAFF, pickup_point_id=metz.id)
    other = factories.user(Role.STAFF, pickup_point_id=woippy.id)
    device = factories.device(point=metz, model="ThinkPad Photo")
    db.session.commit()
    return dict(metz=metz, staff=staff, other=other, device=device, uploads=uploads)


def upload(client, device_id, data: bytes, filename="photo.jpg", **kwargs):
    # Encoded in memory: the test client would spool a large body to a temporary file.
    boundary, body = encode_multipart({"photo": FileStorage(io.BytesIO(data), filename, content_type="image/jpeg")})
    response = client.post(f"/staff/stock/{device_id}/photos", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}", **kwargs)
    response.get_data()
    response.close()
    return response


def smooth_jpeg(width=1200, height=900) -> bytes:
    """A photo-like JPEG: smooth shades, as real photos mostly are."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


def test_a_5_mb_camera_jpeg_becomes_upright_webp_variants_under_60_kb_without_exif(app, db):
    original = noisy_jpeg()
    assert 4_500_000 < len(original) < 7_000_000, len(original)
    assert b"Camera maker" in original
    with app.app_context():
        started = time.perf_counter()
        variants = photos.make_variants(original)
        elapsed = time.perf_counter() - started
    print(f"\n5 MB JPEG ({len(original)} bytes) → " + ", ".join(
        f"{name} {v.width}x{v.height} {len(v.data)} bytes" for name, v in variants.items()) + f" in {elapsed:.2f}s")
    for variant in variants.values():
        assert len(variant.data) < 60_000
        image = Image.open(io.BytesIO(variant.data))
        assert image.format == "WEBP"
        assert image.height > image.width  # the EXIF orientation was applied: portrait
        assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
        assert b"Exif" not in variant.data and b"Camera maker" not in variant.data and b"XMP" not in variant.data
    assert variants["small"].width == 320


def test_an_ordinary_photo_keeps_its_full_variant_widths(app):
    """Real photos are smooth, not noise: they fit the budget at full size."""
    with app.app_context():
        variants = photos.make_variants(smooth_jpeg(2400, 1600))
    assert (variants["small"].width, variants["large"].width) == (320, 800)
    assert (variants["small"].height, variants["large"].height) == (213, 533)


def test_a_small_photo_is_never_enlarged_and_transparency_is_kept(app):
    with app.app_context():
        variants = photos.make_variants(png(100, 50, "RGBA"))
    assert variants["large"].width == 100
    assert Image.open(io.BytesIO(variants["large"].data)).mode == "RGBA"


@pytest.mark.parametrize("data", [
    b"This is a text file, renamed photo.jpg",
    b"",
    b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # a JPEG header and nothing behind it
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",  # a real image, in a format we do not take
])
def test_anything_but_a_jpeg_png_or_webp_is_refused(app, data):
    with app.app_context(), pytest.raises(DomainError):
        photos.make_variants(data)


def test_a_decompression_bomb_is_refused_before_it_is_decoded(app):
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")  # a few kB that would decode to 400 megapixels
    assert len(out.getvalue()) < 200_000
    with app.app_context(), force_locale("en"), pytest.raises(DomainError, match="too many pixels"):
        photos.make_variants(out.getvalue())


def test_upload_stores_variants_under_random_names_and_shows_them(client, db, shop):
    factories.signed_in(client, shop["staff"])
    device = shop["device"]
    version = catalog.stock_version()
    response = upload(client, device.id, smooth_jpeg(), filename="../../etc/passwd.jpg")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/staff/stock/{device.id}/edit#photos")
    photo = db.session.scalar(sa.select(DevicePhoto))
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", photo.token)
    assert sorted(p.name for p in shop["uploads"].iterdir()) == sorted([f"{photo.token}-320.webp", f"{photo.token}-800.webp"])
    assert (photo.small_width, photo.large_width) == (320, 800)
    assert catalog.stock_version() > version  # cached catalog pages show it at once
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "device.photo_added"))
    page = client.get(f"/staff/stock/{device.id}/edit", headers=EN).text
    assert f'src="/photos/{photo.token}-320.webp"' in page and 'alt="Photo of the \u2068Lenovo ThinkPad Photo\u2069"' in page


def test_a_text_file_renamed_jpg_is_refused_and_nothing_is_stored(client, db, shop):
    factories.signed_in(client, shop["staff"])
    response = upload(client, shop["device"].id, b"not an image at all\n" * 50, filename="holiday.jpg", headers=EN)
    assert response.status_code == 422
    assert "not a photo we can use" in response.text and 'id="photo-error"' in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DevicePhoto)) == 0
    assert not shop["uploads"].exists() or not any(shop["uploads"].iterdir())


def test_a_photo_over_the_size_limit_gets_a_clear_message(client, app, db, shop):
    factories.signed_in(client, shop["staff"])
    previous = app.config["PHOTO_MAX_BYTES"]
    app.config["PHOTO_MAX_BYTES"] = 1024 * 1024
    try:
        response = upload(client, shop["device"].id, noisy_jpeg(1600, 1200, grain=1), headers=EN)
    finally:
        app.config["PHOTO_MAX_BYTES"] = previous
    assert response.status_code == 413
    assert "This photo is too large (at most 1 MB)" in response.text and 'id="photo-error"' in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DevicePhoto)) == 0


def test_a_photo_between_the_site_limit_and_the_photo_limit_is_accepted(client, app, db, shop):
    """The site refuses bodies over MAX_CONTENT_LENGTH; photos have their own, larger limit."""
    factories.signed_in(client, shop["staff"])
    previous = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    try:
        data = noisy_jpeg(1600, 1200, grain=1)
        assert len(data) > 1024 * 1024
        assert upload(client, shop["device"].id, data).status_code == 303
    finally:
        app.config["MAX_CONTENT_LENGTH"] = previous


def test_photo_route_serves_with_long_cache_headers_and_etag(client, db, shop):
    factories.signed_in(client, shop["staff"])
    upload(client, shop["device"].id, png(900, 600))
    token = db.session.scalar(sa.select(DevicePhoto.token))
    response = client.get(f"/photos/{token}-800.webp")
    response.close()
    assert response.status_code == 200 and response.mimetype == "image/webp"
    cache = response.headers["Cache-Control"]
    assert "public" in cache and "max-age=31536000" in cache and "immutable" in cache
    etag = response.headers["ETag"]
    again = client.get(f"/photos/{token}-800.webp", headers={"If-None-Match": etag})
    again.close()
    assert again.status_code == 304


@pytest.mark.parametrize("path", [
    "/photos/..%2F..%2Fshop%2Fconfig.py", "/photos/../../pyproject.toml", "/photos/%2e%2e%2fstyle.css",
    "/photos/AAAAAAAAAAAAAAAAAAAAAA-320.webp", "/photos/AAAAAAAAAAAAAAAAAAAAAA-320.png",
    "/photos/..%5C..%5Cpyproject.toml", "/photos/AAAAAAAAAAAAAAAAAAAAA.-320.webp",
])
def test_photo_route_gives_404_for_unknown_tokens_and_traversal(client, shop, path):
    (shop["uploads"]).mkdir(parents=True, exist_ok=True)
    (shop["uploads"].parent / "secret.txt").write_text("secret")
    response = client.get(path)
    assert response.status_code == 404


def test_delete_a_photo_removes_its_files(client, db, shop):
    factories.signed_in(client, shop["staff"])
    upload(client, shop["device"].id, png())
    photo_id = db.session.scalar(sa.select(DevicePhoto.id))
    assert client.post(f"/staff/stock/{shop['device'].id}/photos/{photo_id}/delete").status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DevicePhoto)) == 0
    assert not any(shop["uploads"].iterdir())


def test_staff_of_another_point_cannot_upload_or_delete(client, db, shop):
    factories.signed_in(client, shop["staff"])
    upload(client, shop["device"].id, png())
    photo_id = db.session.scalar(sa.select(DevicePhoto.id))
    client.post("/logout")
    factories.signed_in(client, shop["other"])
    assert upload(client, shop["device"].id, png()).status_code == 404
    assert client.post(f"/staff/stock/{shop['device'].id}/photos/{photo_id}/delete").status_code == 404
    previous = client.application.config["PHOTO_MAX_BYTES"]
    client.application.config["PHOTO_MAX_BYTES"] = 100
    try:  # too large, and not theirs: the page says neither what the device is nor that it exists
        too_large = upload(client, shop["device"].id, png(), headers=EN)
    finally:
        client.application.config["PHOTO_MAX_BYTES"] = previous
    assert too_large.status_code == 404 and "ThinkPad" not in too_large.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DevicePhoto)) == 1


def test_no_photo_on_a_sold_device(client, db, shop):
    sold = factories.device(point=shop["metz"], status=DeviceStatus.SOLD)
    db.session.commit()
    factories.signed_in(client, shop["staff"])
    response = upload(client, sold.id, png(), headers=EN)
    assert response.status_code == 422 and "can no longer be changed" in response.text


def test_catalog_and_offer_show_the_photo_of_one_unit_lazy_loaded_else_the_category_picture(client, db, shop):
    with_photo, twin = shop["device"], factories.device(point=shop["metz"], model="ThinkPad Photo")
    without = factories.device(point=shop["metz"], model="No Photo", price_cents=9000)
    db.session.commit()
    assert twin.offer_key == with_photo.offer_key
    factories.signed_in(client, shop["staff"])
    upload(client, twin.id, png(900, 600))  # the photo is on the second unit of the offer
    client = client.application.test_client()  # an anonymous visitor
    token = db.session.scalar(sa.select(DevicePhoto.token))
    listing = client.get("/catalog", headers=EN).text
    img = re.search(rf'<img class="thumb photo" src="/photos/{token}-320.webp"[^>]*>', listing, re.S).group(0)
    assert 'loading="lazy"' in img and 'width="320"' in img and 'height="213"' in img
    assert 'alt="Photo of the \u2068Lenovo ThinkPad Photo\u2069"' in img
    assert listing.count(f"/photos/{token}-320.webp") == 1
    assert "img/laptop.svg" in listing  # the offer without a photo keeps the drawing
    offer = client.get(f"/offer/{with_photo.offer_key}", headers=EN).text
    assert f"/photos/{token}-800.webp 800w" in offer and 'loading="lazy"' in offer
    assert "/photos/" not in client.get(f"/offer/{without.offer_key}").text


def test_photos_cost_the_catalog_no_extra_query(client, db, shop, count_queries):
    for n in range(30):
        factories.device(point=shop["metz"], model=f"Model {n}")
    db.session.commit()
    factories.signed_in(client, shop["staff"])
    upload(client, shop["device"].id, png())
    client = client.application.test_client()  # an anonymous visitor: pages go through the page cache
    counts = {}
    for url in ("/catalog", f"/offer/{shop['device'].offer_key}"):
        client.application.extensions["page_cache"].clear()
        with count_queries() as counter:
            assert "/photos/" in client.get(url).text
        counts[url] = counter.count
    assert counts == {"/catalog": 3, f"/offer/{shop['device'].offer_key}": 3}  # as without photos (test_catalog.py)


def test_the_database_counts_each_units_photos_whoever_writes_them(db, shop):
    """`photo_count` (what the catalog's cover reads, by a partial index) is kept by triggers: the
    service, hand-written SQL, a photo moved to another unit and a unit deleted with its photos."""
    device, twin = shop["device"], factories.device(point=shop["metz"], model="ThinkPad Photo")
    db.session.commit()

    def counts():
        recount = (sa.select(sa.func.count()).select_from(DevicePhoto.__table__)
                   .where(DevicePhoto.device_id == Device.id).scalar_subquery())
        return {row.id: (row.photo_count, row.recount) for row in
                db.session.execute(sa.select(Device.id, Device.photo_count, recount.label("recount")))}

    first = photos.add_photo(device, png(), actor=shop["staff"])
    photos.add_photo(device, png(), actor=shop["staff"])
    db.session.commit()
    assert counts() == {device.id: (2, 2), twin.id: (0, 0)}
    db.session.execute(sa.update(DevicePhoto).where(DevicePhoto.id == first.id).values(device_id=twin.id))
    assert counts() == {device.id: (1, 1), twin.id: (1, 1)}
    db.session.execute(sa.delete(DevicePhoto).where(DevicePhoto.device_id == device.id))
    assert counts() == {device.id: (0, 0), twin.id: (1, 1)}
    db.session.rollback()
    assert counts() == {device.id: (2, 2), twin.id: (0, 0)}
    db.session.execute(sa.delete(Device).where(Device.id == device.id))  # its photos go with it
    assert counts() == {twin.id: (0, 0)}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DevicePhoto.__table__)) == 0


def test_the_cover_is_the_first_photographed_unit_on_sale(client, db, shop):
    first, second = shop["device"], factories.device(point=shop["metz"], model="ThinkPad Photo")
    third = factories.device(point=shop["metz"], model="ThinkPad Photo")
    db.session.commit()
    photos.add_photo(third, png(), actor=shop["staff"])
    photos.add_photo(second, png(), actor=shop["staff"])
    db.session.commit()
    tokens = {photo.device_id: photo.token for photo in db.session.scalars(sa.select(DevicePhoto))}
    assert catalog.get_offer(first.offer_key).photo.token == tokens[second.id]
    second.status = DeviceStatus.SOLD
    db.session.commit()
    assert catalog.get_offer(first.offer_key).photo.token == tokens[third.id]
    third.status = DeviceStatus.SOLD
    db.session.commit()
    assert catalog.get_offer(first.offer_key).photo is None  # the unit left on sale has none


def test_the_cover_is_found_through_the_photographed_units_only(db, shop):
    """The page statement, as sent, reaches the cover through the partial index: without the
    index's condition, SQLite walks every unit of each offer (PostgreSQL's plan depends on its
    statistics; `bench/README.md` shows it uses the same index)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan is fixed by the schema; PostgreSQL's by its statistics")
    statement, params = catalog._statement(catalog.OfferFilters())
    params.update(now=catalog.utcnow(), limit=24, offset=0)
    compiled = statement.compile(dialect=db.engine.dialect)
    values = compiled.construct_params(params)
    values = [values[name] for name in compiled.positiontup]
    values = [v.isoformat(sep=" ") if hasattr(v, "isoformat") else v for v in values]
    driver = db.session.connection().connection.driver_connection
    plan = [row[3] for row in driver.execute(f"EXPLAIN QUERY PLAN {compiled}", values)]
    assert any("USING INDEX ix_devices_photographed" in step for step in plan), plan


def test_files_follow_the_transaction(db, shop):
    """A photo whose transaction rolls back leaves no file; a deletion rolled back keeps them."""
    device, folder = shop["device"], shop["uploads"]
    photo = photos.add_photo(device, smooth_jpeg(), actor=shop["staff"])
    assert len(list(folder.iterdir())) == 2
    db.session.rollback()
    assert list(folder.iterdir()) == []

    photo = photos.add_photo(device, smooth_jpeg(), actor=shop["staff"])
    db.session.commit()
    photos.delete_photo(device, photo.id, actor=shop["staff"])
    assert len(list(folder.iterdir())) == 2  # still there until the deletion commits
    db.session.rollback()
    assert len(list(folder.iterdir())) == 2
    photos.delete_photo(device, photo.id, actor=shop["staff"])
    db.session.commit()
    assert list(folder.iterdir()) == []


def test_purge_deletes_photo_files_that_no_photo_names_once_they_are_an_hour_old(app, client, db, shop):
    """Left by a process killed between writing a photo's files and its commit."""
    factories.signed_in(client, shop["staff"])
    upload(client, shop["device"].id, smooth_jpeg())
    kept = db.session.scalar(sa.select(DevicePhoto.token))
    folder = shop["uploads"]
    orphan = folder / "Zq3-orphanTokenAbc_12x-320.webp"
    young = folder / "youngOrphanToken1234567-800.webp"
    other = folder / "notes.txt"
    for path in (orphan, young, other):
        path.write_bytes(b"x")
    two_hours_ago = time.time() - 2 * 3600
    for path in [orphan, other, *folder.glob(f"{kept}-*.webp")]:
        os.utime(path, (two_hours_ago, two_hours_ago))

    result = app.test_cli_runner().invoke(args=["purge"])

    assert result.exit_code == 0, result.output
    assert "Deleted 1 photo files that no photo names." in result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{kept}-320.webp", f"{kept}-800.webp", young.name, other.name])
    assert photos.sweep_orphans() == 0  # safe to run twice
