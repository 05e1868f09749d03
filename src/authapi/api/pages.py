"""The built-in pages that emailed links open when AUTHAPI_APP_URL is unset.

For now each page says what to post where; the pages built on the JavaScript
client (clients/js) replace them. The token stays in the address bar: a page
never writes it into its HTML, so nothing in it can be injected.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from authapi.api.deps import SettingsDep
from authapi.settings import BUILT_IN_PAGES_PATH

router = APIRouter(prefix=BUILT_IN_PAGES_PATH, include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body))


def _post_instruction(api: str, path: str, fields: str) -> str:
    return (
        "<p>This address carries a one-time <code>token</code> (after <code>?token=</code>). "
        "The account pages are not built yet; to finish, send it to the API:</p>\n"
        f"<pre>POST {escape(api)}{escape(path)}\nContent-Type: application/json\n\n"
        f"{escape(fields)}</pre>"
    )


@router.get("/verify-email")
async def verify_email_page(settings: SettingsDep) -> HTMLResponse:
    return _page(
        "Confirm your email address",
        _post_instruction(settings.public_url, "/auth/verify-email", '{"token": "…"}'),
    )


@router.get("/reset-password")
async def reset_password_page(settings: SettingsDep) -> HTMLResponse:
    rule = f"at least {settings.password_min_length} characters"
    return _page(
        "Choose a new password",
        _post_instruction(
            settings.public_url,
            "/auth/reset-password",
            f'{{"token": "…", "new_password": "{rule}"}}',
        ),
    )


@router.get("")
@router.get("/")
async def account_page(settings: SettingsDep) -> HTMLResponse:
    return _page(
        "Your account",
        f"<p>Sign in with <code>POST {escape(settings.public_url)}/auth/login</code>; "
        f'the API is described at <a href="{escape(settings.public_url)}/docs">/docs</a>.</p>',
    )
