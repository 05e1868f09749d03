"""The built-in account pages (`/account/…`), where emailed links open while
AUTHAPI_APP_URL is unset: sign-in (with the second-factor step), sign-up,
verify-email, forgot and reset password, and the account.

Static files, no build step at run time: the pages (`authapi/account/pages/<name>.html`,
each the content of `layout.html`, titled by its `<h1>`, put together once per process),
their one module (`authapi/account/assets/`) and the JavaScript client's committed build
(`clients/js/dist`, shipped in the wheel as `authapi/account/client`). Their
Content-Security-Policy is stricter than the API docs' (no inline script or
style at all). A page never spends the token of its link by being opened: the
user confirms, then the page posts it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from string import Template

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from authapi.settings import BUILT_IN_PAGES_PATH

ACCOUNT_DIR = Path(__file__).resolve().parents[1] / "account"
# every pages/<name>.html is /account/<name>, except the account itself, at /account/
PAGES = frozenset(path.stem for path in (ACCOUNT_DIR / "pages").glob("*.html")) - {"account"}
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADING = re.compile(r"<h1>(.*?)</h1>")

router = APIRouter(prefix=BUILT_IN_PAGES_PATH, include_in_schema=False)


def client_dir() -> Path:
    """The client's build: inside an installed wheel, else the checkout's clients/js/dist."""
    packaged = ACCOUNT_DIR / "client"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "clients" / "js" / "dist"


@cache
def render(name: str) -> str:
    """A page: its content in the shared frame, titled by its heading (read once)."""
    content = (ACCOUNT_DIR / "pages" / f"{name}.html").read_text(encoding="utf-8")
    heading = _HEADING.search(content)
    assert heading is not None, f"pages/{name}.html has no <h1>"
    frame = Template((ACCOUNT_DIR / "layout.html").read_text(encoding="utf-8"))
    return frame.substitute(title=heading.group(1), page=name, content=content)


def _page(name: str) -> HTMLResponse:
    return HTMLResponse(render(name), headers={"Content-Security-Policy": PAGE_POLICY})


@router.get("")
async def account_root() -> RedirectResponse:
    # the pages' relative links and scripts resolve from the folder, /account/
    return RedirectResponse(f"{BUILT_IN_PAGES_PATH}/", status_code=308)


@router.get("/")
async def account_page() -> HTMLResponse:
    return _page("account")


@router.get("/{name}")
async def page(name: str) -> HTMLResponse:
    if name not in PAGES:
        raise HTTPException(status_code=404)
    return _page(name)


def mount_static(app: FastAPI) -> None:
    """The pages' own assets and the client they import."""
    app.mount(
        f"{BUILT_IN_PAGES_PATH}/assets",
        StaticFiles(directory=ACCOUNT_DIR / "assets"),
        name="account-assets",
    )
    app.mount(
        f"{BUILT_IN_PAGES_PATH}/client",
        StaticFiles(directory=client_dir(), check_dir=False),
        name="account-client",
    )
