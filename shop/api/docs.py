"""/api/v1/docs: the OpenAPI document as a page for people, rendered on the server (no script,
no CDN: the strict CSP holds)."""

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(ref: dict | None) -> str | None:
    if not ref:
        return None
    ref = ref.get("items", ref) if ref.get("type") == "array" else ref
    return ref.get("$ref", "").rsplit("/", 1)[-1] or None


@bp.get("/docs")
def page():
    spec = current_app.extensions["shop_api"].spec.to_dict()
    operations = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            operations.append({
                "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
                "description": operation.get("description", ""),
                "parameters": [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"],
                "body": _schema_name(body),
                "answers": sorted(operation.get("responses", {})),
            })
    schemas = {name: sorted(schema.get("properties", {}).items())
               for name, schema in spec.get("components", {}).get("schemas", {}).items()}
    return render_template("api/docs.html", spec=spec, operations=operations, schemas=schemas)
