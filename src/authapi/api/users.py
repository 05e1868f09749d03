"""`/users/me`: the signed-in account."""

from __future__ import annotations

from fastapi import APIRouter

from authapi.api.deps import Accounts, CurrentPrincipal
from authapi.errors import InvalidAccessToken, NotAuthenticated, ServiceUnavailable, problems
from authapi.schemas import UserOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get(
    "/me",
    response_model=UserOut,
    responses=problems(NotAuthenticated, InvalidAccessToken, ServiceUnavailable),
    summary="The signed-in account",
)
async def me(principal: CurrentPrincipal, accounts: Accounts) -> UserOut:
    user = await accounts.get_user(principal.user_id)
    return UserOut(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified,
        mfa_enabled=False,
        created_at=user.created_at,
    )
