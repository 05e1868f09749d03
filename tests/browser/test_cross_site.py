"""A page on another site cannot use the refresh cookie (CSRF), in a real browser.

The victim is signed in on the built-in pages; in the same browser profile a page on
http://other-site.test:<port> (Chromium resolves the name to 127.0.0.1; another site
than 127.0.0.1) tries what a cross-site page can: a CORS request with the header the
API asks for, a no-cors request without it, and a plain form post. None rotates the
session: the preflight is refused, and the SameSite=Strict cookie does not travel on
the others."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.conftest import OTHER_SITE, Browsing, Site
from tests.browser.test_pages import on_account_page, registered_user, sign_in

pytestmark = pytest.mark.live

ATTACK = """<!doctype html>
<title>other site</title>
<form id="post" method="post" action="{api}/auth/refresh"></form>
<script>
window.results = {{}};
(async () => {{
  try {{
    const answer = await fetch('{api}/auth/refresh', {{
      method: 'POST', credentials: 'include', headers: {{ 'X-Requested-With': 'x' }},
    }});
    results.cors = answer.status;
  }} catch (error) {{
    results.cors = 'blocked';
  }}
  const opaque = await fetch('{api}/auth/refresh', {{
    method: 'POST', credentials: 'include', mode: 'no-cors',
  }});
  results.noCors = opaque.type;
  results.done = true;
}})();
</script>
"""


@pytest.fixture
def other_site(site: Site) -> Iterator[str]:
    """An attacker's page on another site, aimed at `site`; its address."""
    page = ATTACK.format(api=site.origin).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{OTHER_SITE}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.requirement("RFC6750-5.3-b")
async def test_a_page_on_another_site_cannot_refresh(
    browsing: Browsing, site: Site, other_site: str
) -> None:
    context = await browsing.context()
    victim = await browsing.tab(context)
    address = await registered_user(victim, site)
    await sign_in(victim, site, address)
    await on_account_page(victim, site, address)
    rotations = await site.rotations()

    attacker = await browsing.tab(context)
    await attacker.page.goto(other_site)
    await attacker.page.wait_for_function("window.results && window.results.done")
    results = await attacker.page.evaluate("window.results")
    assert results == {"cors": "blocked", "noCors": "opaque", "done": True}
    async with attacker.page.expect_navigation() as navigation:
        await attacker.page.evaluate("document.getElementById('post').submit()")
    answer = await navigation.value
    assert answer is not None
    assert answer.status in (401, 403), await answer.text()
    # what Chromium said about the refused preflight is the attack failing, as it should
    assert any("CORS" in problem for problem in attacker.problems), attacker.problems
    attacker.problems.clear()

    assert await site.rotations() == rotations, "a cross-site request rotated the session"
    # the victim's session is untouched
    await victim.page.reload()
    await on_account_page(victim, site, address)
