"""The web console in a real browser (Debian's Chromium through Playwright) against a live
``permsvc serve``: log in, draw the model, filter tuples, grant then see "why" become allowed with
the new tuple in the path, revoke, see the audit row; every page at 1280x800 and at a phone width,
with a screenshot each (tests/artifacts/console/) and no console error anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.browser import ARTIFACTS
from tests.console.conftest import Console

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


class Session:
    """One browser tab, logged in or not, recording every console error and page error."""

    def __init__(self, page: Any, console: Console) -> None:
        self.page = page
        self.console = console
        self.errors: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: d.accept())

    def go(self, hash_: str) -> None:
        self.page.evaluate("h => { location.hash = h }", hash_)
        self.page.wait_for_function("h => location.hash === h", arg=hash_)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def login(self, key: str = "") -> None:
        self.page.goto(self.console.url + "/console")
        self.page.get_by_label("API key").fill(key or self.console.key)
        self.page.get_by_label("API key").press("Enter")
        self.page.locator("#nav").wait_for(state="visible")
        self.page.select_option("#store-select", self.console.store_id)


@pytest.fixture
def session(browser: Any, console: Console) -> Iterator[Session]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    s = Session(page, console)
    try:
        yield s
        assert s.errors == [], s.errors
    finally:
        context.close()


def test_login_page_is_keyboard_usable_and_measures_first_paint(session: Session) -> None:
    page = session.page
    page.goto(session.console.url + "/console")
    key = page.get_by_label("API key")
    key.wait_for()
    assert page.evaluate("document.activeElement.id") == "api-key"
    paint = page.evaluate(
        "() => { const e = performance.getEntriesByName('first-contentful-paint')[0];"
        " const n = performance.getEntriesByType('navigation')[0];"
        " return {fcp: e ? e.startTime : null, dcl: n.domContentLoadedEventEnd, transfer: n.transferSize} }"
    )
    assets = page.evaluate(
        "() => performance.getEntriesByType('resource').filter(r => r.name.includes('/console/'))"
        ".map(r => ({name: r.name, bytes: r.decodedBodySize}))"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "first-paint.json").write_text(
        json.dumps({"paint": paint, "assets": assets}, indent=2)
    )
    assert paint["fcp"] is not None and 0 < paint["fcp"] < 5000, paint
    session.shot("login")
    # A wrong key is refused with a message; Enter submits.
    key.fill("psk_wrong_key")
    key.press("Enter")
    page.get_by_role("alert").wait_for()
    assert "not accepted" in page.get_by_role("alert").inner_text()
    # The refused key's 401 is the one expected network error.
    session.errors = [e for e in session.errors if "401" not in e]
    key.fill(session.console.key)
    page.keyboard.press("Tab")  # focus order: key, then the submit button
    assert page.evaluate("document.activeElement.textContent") == "Log in"
    page.keyboard.press("Enter")
    page.locator("#nav").wait_for(state="visible")
    labelled = page.evaluate(
        "() => [...document.querySelectorAll('input, select')].filter(e => e.labels.length === 0).map(e => e.id)"
    )
    assert labelled == []
    # The keyboard reaches everything: the skip link first, then the pages; Enter follows a link.
    page.locator("svg.graph").wait_for()  # the first page drawn (it takes the focus to <main>)
    page.focus(".brand a")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#/tuples"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('main h2')?.textContent === 'Tuples'")
    assert page.evaluate("document.activeElement.id") == "main"


def test_model_graph_dsl_and_diff(session: Session) -> None:
    session.login()
    page = session.page
    session.go("#/models")
    graph = page.locator("svg.graph")
    graph.wait_for()
    # Types and relations are nodes; direct, userset, computed and `from` edges are drawn.
    for node in ("user", "group#member", "document#viewer", "document#can_read", "folder#viewer"):
        assert page.locator(f'[data-node="{node}"]').count() == 1, node
    edges = {
        "document#viewer->folder#viewer": "kind-from",
        "document#viewer->group#member": "kind-userset",
        "document#viewer->document#editor": "kind-computed",
        "document#editor->user": "kind-direct",
    }
    for edge, kind in edges.items():
        assert kind in page.locator(f'[data-edge="{edge}"]').first.get_attribute("class"), edge
    assert "excl" in page.locator(
        '[data-edge="document#can_read->document#blocked"]'
    ).get_attribute("class")
    assert "non_expired" in graph.inner_html()
    assert "define can_read: viewer but not blocked" in page.locator("pre.dsl").inner_text()
    assert (
        "condition non_expired(current_time: timestamp, expires: timestamp)"
        in page.locator("pre.dsl").inner_text()
    )
    session.shot("model")
    # Time to first paint of the console, logged in: a fresh load of the model page.
    page.reload()
    page.locator("svg.graph").wait_for()
    timing = page.evaluate(
        "() => ({fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,"
        " graph: performance.now()})"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "model-paint.json").write_text(json.dumps(timing, indent=2))
    assert timing["fcp"] is not None and timing["fcp"] < 5000, timing
    page.get_by_role("link", name="diff with previous").first.click()
    diff = page.locator("pre.diff")
    diff.wait_for()
    added = diff.locator(".add").all_inner_texts()
    assert any("define can_read: viewer but not blocked" in line for line in added), added
    assert diff.locator(".del").count() == 0
    session.shot("model-diff")


def test_tuples_filter_and_pages(session: Session) -> None:
    session.login()
    page = session.page
    session.go("#/tuples")
    unfiltered = page.locator("table.data caption")
    unfiltered.wait_for()  # the tuples page, not the one before it, has rendered its first page
    first_render = unfiltered.element_handle()
    page.get_by_label("Object", exact=True).first.fill("document:")
    page.get_by_label("User", exact=True).first.fill("user:anne")
    page.get_by_label("User", exact=True).first.press("Enter")
    first_render.wait_for_element_state("hidden")  # replaced by the filtered page
    caption = page.locator("table.data caption")
    caption.wait_for()
    assert caption.inner_text().startswith("25 tuple(s)")
    page.locator("#next-page").click()
    page.wait_for_function(
        "() => document.querySelector('table.data caption')?.textContent.startsWith('5 tuple(s)')"
    )
    session.go("#/tuples?object=document%3A&condition=non_expired")
    page.wait_for_function(
        "() => document.querySelector('table.data caption')?.textContent.includes('with condition non_expired')"
    )
    rows = page.locator("table.data tbody tr").all_inner_texts()
    assert len(rows) == 1 and "user:dave" in rows[0] and "non_expired" in rows[0], rows
    session.shot("tuples")
    # A user alone: the admin API's list of the user's grants.
    session.go("#/tuples?user=user%3Acarol")
    page.wait_for_function(
        "() => document.querySelector('#f-user')?.value === 'user:carol' && document.querySelector('table.data caption')"
    )
    rows = page.locator("table.data tbody tr").all_inner_texts()
    assert len(rows) == 1 and "document:readme" in rows[0] and "owner" in rows[0], rows
    # A relation alone: a page of every tuple, filtered.
    session.go("#/tuples?relation=parent")
    page.wait_for_function(
        "() => document.querySelector('table.data caption')?.textContent.includes('filtered from')"
    )
    rows = page.locator("table.data tbody tr").all_inner_texts()
    assert len(rows) == 1 and "folder:eng-docs" in rows[0], rows


def _why(session: Session, user: str, relation: str, object_: str) -> str:
    page = session.page
    session.go("#/why")
    # The page renders once the model is read: until then the previous page (the tuples page
    # has a "User" filter too) is still there, and its field would take the user.
    page.locator("#w-user").wait_for()
    page.get_by_label("User", exact=True).first.fill(user)
    page.locator("#w-relation").select_option(relation)
    page.locator("#w-object").fill(object_)
    page.locator("#w-object").press("Enter")
    page.locator("#verdict").wait_for()
    return page.locator("#verdict").inner_text()


def test_grant_then_why_allowed_then_revoke_and_audit(session: Session) -> None:
    session.login()
    page = session.page
    assert _why(session, "user:bob", "viewer", "document:readme").startswith("Denied")
    session.shot("why-denied")

    session.go("#/tuples")
    page.get_by_text("Grant a tuple").click()
    page.locator("#g-object").fill("group:eng")
    page.locator("#g-relation").fill("member")
    page.locator("#g-user").fill("user:bob")
    page.locator("#g-user").press("Enter")
    result = page.locator("#grant-result")
    result.wait_for()
    audit_link = result.get_by_role("link")
    audit_id = audit_link.inner_text().rpartition(" ")[2]

    verdict = _why(session, "user:bob", "viewer", "document:readme")
    assert verdict.startswith("Allowed"), verdict
    explained = page.evaluate(
        "() => fetch('/openapi.json').then(r => r.json()).then(s => '/v1/explain' in s.paths)"
    )
    if explained:
        steps = page.locator("ol.steps").inner_text()
        assert "group:eng#member@user:bob" in steps, steps
        for node in ("document#viewer", "folder#viewer", "group#member"):
            assert "hot" in page.locator(f'[data-node="{node}"]').get_attribute("class"), node
        for node in ("folder", "document#editor"):  # a parent named on the way is not the end
            assert "hot" not in page.locator(f'[data-node="{node}"]').get_attribute("class"), node
        assert "hot" in page.locator('[data-edge="document#viewer->folder#viewer"]').get_attribute(
            "class"
        )
    else:
        assert "does not explain decisions yet" in page.locator("#why-result").inner_text()
    session.shot("why-allowed")

    # "What can this user do" and "who can do this".
    page.locator("#l-user").fill("user:bob")
    page.locator("#l-type").select_option("document")
    page.locator("#l-user").press("Enter")
    page.locator("#can-do").wait_for()
    assert "document:readme" in page.locator("#can-do").inner_text()
    page.locator("#u-object").fill("document:readme")
    page.locator("#u-relation").select_option("viewer")
    page.locator("#u-type").select_option("user")
    page.locator("#u-object").press("Enter")
    page.locator("#who-can").wait_for()
    assert "user:bob" in page.locator("#who-can").inner_text()
    session.shot("why-lists")

    session.go("#/tuples?object=group%3Aeng&user=user%3Abob")
    page.get_by_role("button", name="Revoke group:eng#member@user:bob").click()
    page.wait_for_function(
        "() => document.querySelector('table.data caption')?.textContent.startsWith('0 tuple(s)')"
    )
    revoked = page.locator("#change-result").get_by_role("link").inner_text().rpartition(" ")[2]
    assert int(revoked) > int(audit_id)
    assert _why(session, "user:bob", "viewer", "document:readme").startswith("Denied")
    if explained:
        tried = page.locator("ul.denial").first.inner_text()
        assert "no tuple group:eng#member@user:bob" in tried, tried
        assert "tried" in page.locator('[data-node="group#member"]').get_attribute("class")
    session.shot("why-denied-after-revoke")

    audit_link_hash = f"#/audit?id={audit_id}"
    session.go(audit_link_hash)
    page.locator("#audit-table").wait_for()
    marked = page.locator(f"#audit-{audit_id}")
    assert "mark" in marked.get_attribute("class")
    assert "grant" in marked.inner_text() and "user:bob" in marked.inner_text()
    actions = page.locator("#audit-table tbody tr td:nth-child(4)").all_inner_texts()
    assert actions[:2] == ["revoke", "grant"], actions
    assert "user:bob" in page.locator(f"#audit-{revoked}").inner_text()
    session.shot("audit")


def test_claims_preview_and_keys(session: Session) -> None:
    session.login()
    page = session.page
    session.go("#/claims")
    page.get_by_label("User id (the token's sub)").fill("anne")
    page.get_by_label("User id (the token's sub)").press("Enter")
    page.locator("#claim-size").wait_for()
    size = page.locator("#claim-size").inner_text()
    assert " of 1024 bytes" in size, size
    assert '"document#viewer"' in page.locator("pre.dsl").inner_text()
    assert '"d000"' in page.locator("pre.dsl").inner_text()
    session.shot("claims")

    session.go("#/keys")
    page.get_by_label("Name").fill("console-made")
    page.get_by_label("Role").select_option("check")
    page.get_by_label("Name").press("Enter")
    page.locator("#new-key").wait_for()
    assert page.locator("#new-key").inner_text().startswith("psk_")
    assert "console-made" in page.locator("table.data").inner_text()
    session.shot("keys")


@pytest.mark.parametrize("view", ["models", "tuples", "why", "audit"])
def test_phone_width_is_readable(browser: Any, console: Console, view: str) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        s = Session(page, console)
        s.login()
        s.go(f"#/{view}")
        page.locator("main h2").wait_for()
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("() => document.documentElement.scrollWidth") - PHONE["width"]
        wide = page.evaluate(
            "w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1)"
            ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)",
            PHONE["width"],
        )
        assert overflow <= 1, f"{view}: the page is {overflow}px wider than the phone: {wide}"
        s.shot(f"phone-{view}")
        assert s.errors == [], s.errors
    finally:
        context.close()


def test_why_draws_an_exclusion(session: Session) -> None:
    session.login()
    page = session.page
    assert _why(session, "user:anne", "can_read", "document:readme").startswith("Allowed")
    explained = page.evaluate(
        "() => fetch('/openapi.json').then(r => r.json()).then(s => '/v1/explain' in s.paths)"
    )
    if explained:
        steps = page.locator("ol.steps").first.inner_text()
        assert "document:readme#can_read: the excluded branch failed" in steps, steps
        assert "no tuple document:readme#blocked@user:anne" in steps, steps
        assert "group:eng#member@user:anne" in steps, steps
        assert "hot" in page.locator('[data-node="document#can_read"]').get_attribute("class")
    else:
        assert "does not explain decisions yet" in page.locator("#why-result").inner_text()
    session.shot("why-exclusion")


def test_a_read_key_sees_only_its_pages_without_a_console_error(session: Session) -> None:
    """The console asks GET /v1/whoami for the roles: a read key gets no admin or claims page and
    the console never calls an API that would refuse it (no 403 in the browser's console)."""
    page = session.page
    key = session.console.call("POST", "/v1/admin/keys", {"roles": ["read"], "name": "reader"})
    session.login(key["key"])
    assert "read" in page.locator("#whoami").inner_text()
    visible = page.evaluate(
        "() => [...document.querySelectorAll('#nav a')].filter(a => !a.hidden)"
        ".map(a => a.getAttribute('href'))"
    )
    assert visible == ["#/models", "#/tuples", "#/why"], visible
    page.locator("svg.graph").wait_for()
    session.go("#/tuples")
    page.locator("table.data").wait_for()
    assert page.get_by_text("Grant a tuple").count() == 0
    assert page.locator("button.danger").count() == 0
    assert _why(session, "user:anne", "viewer", "document:readme").startswith("Allowed")
    for hidden, role in (("#/keys", "admin"), ("#/audit", "admin"), ("#/claims", "claims")):
        session.go(hidden)
        page.wait_for_function(
            "r => document.querySelector('#needs-role')?.textContent.includes(`'${r}' role`)"
            " && document.querySelector('main h2')?.textContent === 'Not available'",
            arg=role,
        )
    page.wait_for_load_state("networkidle")
    session.shot("read-key")


def test_a_key_without_the_read_role_is_told_so(session: Session) -> None:
    page = session.page
    key = session.console.call("POST", "/v1/admin/keys", {"roles": ["check"], "name": "checker"})
    page.goto(session.console.url + "/console")
    page.get_by_label("API key").fill(key["key"])
    page.get_by_label("API key").press("Enter")
    page.locator("#no-access").wait_for()
    text = page.locator("#no-access").inner_text()
    assert "Roles here: check" in text and "needs the 'read' role" in text, text
    assert page.locator("#nav").is_hidden() and page.locator("#logout").is_visible()
    page.wait_for_load_state("networkidle")
    session.shot("no-access")
    page.locator("#logout").click()
    page.get_by_label("API key").wait_for()
