"""A Python client generated from the OpenAPI document (openapi-python-client) calls every
operation against the app, through a WSGI transport: the document is one a generator accepts."""

import json
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest

from shop.models import ApiRole, DeviceStatus
from shop.services import api_tokens
from tests import factories

pytest.importorskip("openapi_python_client")
httpx = pytest.importorskip("httpx")
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


def test_a_generated_client_calls_every_operation(app, client, db, tmp_path, monkeypatch):
    document = client.get("/api/v1/openapi.json").json
    (tmp_path / "spec.json").write_text(json.dumps(document))
    (tmp_path / "config.yaml").write_text("package_name_override: shop_client\npost_hooks: []\n")
    subprocess.run([str(GENERATOR), "generate", "--path", "spec.json", "--config", "config.yaml", "--meta", "none"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    monkeypatch.syspath_prepend(str(tmp_path))

    point = factories.pickup_point()
    batch = factories.batch()
    factories.device(point=point, batch_id=batch.id, status=DeviceStatus.RECEIVED, serial_number="GEN-0")
    worker = factories.user()
    raw = {role: api_tokens.create(name=role.value, role=role, actor=None,
                                   donor_ids=[batch.donor_id] if role != ApiRole.PARTNER else [],
                                   organisation_id=worker.organisation_id if role == ApiRole.PARTNER else None)[1]
           for role in ApiRole}
    db.session.commit()
    ids = {"donor": batch.donor_id, "batch": batch.id, "reference": batch.reference, "point": point.id}
    statuses, failures = {}, []

    def run():  # outside the test's app context: each request gets its own, as in production
        try:
            from shop_client import AuthenticatedClient
            from shop_client.api.api import (
                get_api_v1_batches, get_api_v1_batches_batch_id, get_api_v1_batches_batch_id_devices, get_api_v1_codes,
                get_api_v1_devices_serial, get_api_v1_pickup_points, get_api_v1_report, get_api_v1_token,
                post_api_v1_batches, post_api_v1_devices, post_api_v1_devices_serial_erasures,
                post_api_v1_devices_serial_moves, post_api_v1_erasures,
            )
            from shop_client.models import BatchIn, DevicesIn, ErasureIn, ErasuresIn, MoveIn

            def connect(role):
                return AuthenticatedClient(base_url="http://shop.test", token=raw[role],
                                           headers={"Accept-Language": "en"},
                                           httpx_args={"transport": httpx.WSGITransport(app=app)})

            refurbisher, donor, partner = connect(ApiRole.REFURBISHER), connect(ApiRole.DONOR), connect(ApiRole.PARTNER)
            erasure = {"method": "nist_800_88_purge", "tool": "Blancco", "performed_on": date(2026, 1, 20).isoformat(),
                       "operator": "Valor Emm", "result": "success"}
            calls = {
                "token": lambda: get_api_v1_token.sync_detailed(client=refurbisher),
                "pickup points": lambda: get_api_v1_pickup_points.sync_detailed(client=refurbisher),
                "create batch": lambda: post_api_v1_batches.sync_detailed(client=refurbisher, idempotency_key="b1", body=BatchIn.from_dict(
                    {"donor_id": ids["donor"], "reference": "GEN-B", "received_on": "2026-01-10"})),
                "batches": lambda: get_api_v1_batches.sync_detailed(client=donor, limit=10),
                "batch": lambda: get_api_v1_batches_batch_id.sync_detailed(ids["batch"], client=refurbisher),
                "create devices": lambda: post_api_v1_devices.sync_detailed(client=refurbisher, idempotency_key="d1", body=DevicesIn.from_dict(
                    {"pickup_point_id": ids["point"], "devices": [{
                        "serial_number": "GEN-1", "category": "laptop", "brand": "HP", "model": "EliteBook 840",
                        "grade": "B", "batch": ids["reference"], "price_cents": 11000}]})),
                "erasure": lambda: post_api_v1_devices_serial_erasures.sync_detailed(
                    "GEN-0", client=refurbisher, idempotency_key="e1", body=ErasureIn.from_dict(erasure)),
                "move": lambda: post_api_v1_devices_serial_moves.sync_detailed(
                    "GEN-0", client=refurbisher, idempotency_key="m1", body=MoveIn.from_dict({"to": "erased"})),
                "erasures": lambda: post_api_v1_erasures.sync_detailed(client=refurbisher, idempotency_key="e2", body=ErasuresIn.from_dict(
                    {"records": [{**erasure, "serial_number": "GEN-1"}]})),
                "device": lambda: get_api_v1_devices_serial.sync_detailed("GEN-0", client=donor),
                "batch devices": lambda: get_api_v1_batches_batch_id_devices.sync_detailed(ids["batch"], client=donor),
                "report": lambda: get_api_v1_report.sync_detailed(client=donor),
                "codes": lambda: get_api_v1_codes.sync_detailed(client=partner),
                "refused": lambda: get_api_v1_codes.sync_detailed(client=donor),
            }
            for name, call in calls.items():
                response = call()
                statuses[name] = (int(response.status_code), type(response.parsed).__name__)
        except Exception as error:  # reported below, in the test's thread
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not failures, failures
    assert statuses == {
        "token": (200, "TokenInfo"), "pickup points": (200, "PickupPointPage"), "create batch": (201, "BatchOut"),
        "batches": (200, "BatchPage"), "batch": (200, "BatchOut"), "create devices": (201, "DevicesCreated"),
        "erasure": (201, "DeviceOut"), "move": (200, "DeviceOut"), "erasures": (201, "ErasuresCreated"),
        "device": (200, "DeviceOut"), "batch devices": (200, "DevicePage"), "report": (200, "ReportOut"),
        "codes": (200, "CodePage"), "refused": (403, "Problem"),
    }
