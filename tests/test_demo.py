import sqlalchemy as sa

from shop.demo import seed_demo
from shop.models import Category, Device, DeviceStatus, PickupPoint
from shop.services.pricing import legal_cap


def test_seed_demo_builds_a_realistic_shop_and_is_idempotent(app, db):
    first = seed_demo()
    db.session.commit()
    second = seed_demo()
    db.session.commit()
    assert first["devices"] >= 80 and second["devices"] == 0
    assert db.session.scalar(sa.select(sa.func.count(Device.id))) == first["devices"]
    assert db.session.scalar(sa.select(sa.func.count(PickupPoint.id))) == 3
    categories = set(db.session.scalars(sa.select(Device.category).where(Device.status == DeviceStatus.LISTED)))
    assert categories == set(Category)
    for device in db.session.scalars(sa.select(Device)):
        cap = legal_cap(device.category)
        if device.batch.donor.is_public and cap is not None:
            assert device.price_cents <= cap


def test_seed_demo_command_refuses_production(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "SHOP_ENV", "production")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "never runs in production" in result.output


def test_demo_models_are_brand_and_model_only_so_no_english_shows_in_other_languages():
    """Brand and model stay as the maker writes them; words the shop would write itself ("keyboard
    and mouse", "6th generation") would show in English on French and Arabic pages."""
    import re

    from shop.demo import MODELS

    for _category, brand, model, *_ in MODELS:
        assert not re.search(r"\b[a-z]{3,}\b", f"{brand} {model}"), model
