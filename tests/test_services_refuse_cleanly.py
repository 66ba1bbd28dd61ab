"""One way to refuse: a public service function that writes and can refuse runs under `atomic`
(a refusal then undoes its own writes), unless it is listed below with the reason it is safe.

The walk is on the source (AST): direct writes are `db.session.add/add_all/delete/merge/flush`
and `execute` of an INSERT, UPDATE or DELETE; a refusal is a `raise` in the function's body.
"""

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parent.parent / "shop" / "services"
_SESSION_WRITES = {"add", "add_all", "delete", "merge", "flush"}
_STATEMENT_WRITES = {"insert", "update", "delete"}

# "module.function": why a refusal there leaves nothing half-done without `atomic`.
EXCEPTIONS = {
    "codes.extend": "checks first, then one conditional UPDATE (row count checked)",
    "accounts.use_token": "checks the link and the password, then one conditional UPDATE; refused if it lost",
    "accounts.invite": "checks the inviter, the address and duplicates before adding the account",
    "twofactor.use_recovery_code": "one conditional UPDATE; refused only when it took nothing",
    "waitlist.claim_turn": "called only inside reservations._reserve, which is atomic",
    # Checks everything (without autoflush) before the first write; a savepoint would first flush
    # the caller's new, not yet added device through its batch (seed-demo builds devices so).
    "devices.add_device": "checks price, point and description before the one INSERT",
    "devices.transition": "checks first, then one conditional UPDATE (Conflict when it took nothing), then the history row",
    "photos.add_photo": "checks and writes the files before the one INSERT; files are removed after a rollback",
    "photos.delete_photo": "refuses (NotFound) before the first write",
    "payments.handle_webhook": "refuses a bad signature or event before the first write",
}


def _writes(function: ast.AST) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in _SESSION_WRITES and "session" in ast.unparse(node.func.value):
                return True
            if name == "execute" and any(
                isinstance(inner, ast.Call) and isinstance(inner.func, (ast.Attribute, ast.Name))
                and (inner.func.attr if isinstance(inner.func, ast.Attribute) else inner.func.id) in _STATEMENT_WRITES
                for arg in node.args for inner in ast.walk(arg)
            ):
                return True
    return False


def _refuses(function: ast.AST) -> bool:
    return any(isinstance(node, ast.Raise) for node in ast.walk(function))


def _is_atomic(function) -> bool:
    return any(ast.unparse(d) in ("atomic", "tx.atomic") for d in function.decorator_list)


def _public_functions():
    for path in sorted(SERVICES.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                yield f"{path.stem}.{node.name}", node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                        yield f"{path.stem}.{node.name}.{item.name}", item


def test_every_writing_service_that_refuses_is_atomic_or_explained():
    offenders = [name for name, function in _public_functions()
                 if _writes(function) and _refuses(function) and not _is_atomic(function) and name not in EXCEPTIONS]
    assert offenders == [], "write under @atomic, or explain in EXCEPTIONS: " + ", ".join(offenders)


def test_the_exceptions_are_still_true():
    found = {name: function for name, function in _public_functions()}
    stale = [name for name in EXCEPTIONS if name not in found or _is_atomic(found[name])
             or not (_writes(found[name]) and _refuses(found[name]))]
    assert stale == [], "no longer needed in EXCEPTIONS: " + ", ".join(stale)


def test_views_leave_the_transaction_to_the_services_and_the_edge():
    """No view rolls back or commits by hand (the request's edge does, services use `atomic`)."""
    root = SERVICES.parent
    allowed = {
        # A lost connection or lock timeout (not a refusal): the transaction is broken.
        ("reserve/views.py", "OperationalError"),
        # A password that is right but leads to a second step: the sign-in is not recorded yet.
        ("auth/views.py", "no sign-in happened"),
        # The shared helper that puts a refusal on a form after undoing the request's writes.
        ("forms.py", "def refuse"),
    }
    found = []
    for path in sorted(root.glob("*/*views*.py")) + [root / "forms.py"]:
        text = path.read_text()
        for number, line in enumerate(text.splitlines(), 1):
            if "session.rollback()" in line or "session.commit()" in line:
                context = "\n".join(text.splitlines()[max(0, number - 8):number])
                if not any(str(path).endswith(name) and marker in context for name, marker in allowed):
                    found.append(f"{path.relative_to(root)}:{number}")
    assert found == []
