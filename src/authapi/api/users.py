"""`/users/me`: the signed-in account."""

from __future__ import annotations

from fastapi import APIRouter

from authapi.api.deps import CurrentPrincipal, ResourcesDep
from authapi.errors import InvalidAccessToken, NotAuthenticated, ServiceUnavailable, problems
from authapi.schemas import UserOut
from authapi.services.accounts import read_profile

router = APIRouter(prefix="/users", tags=["users"])


@router.get(
    "/me",
    response_model=UserOut,
    responses=problems(NotAuthenticated, InvalidAccessToken, ServiceUnavailable),
    summary="The signed-in account",
)
async def me(principal: CurrentPrincipal, resources: ResourcesDep) -> UserOut:
    profile = await read_profile(resources.reader, principal.user_id)
    return UserOut(
        id=profile.id,
        email=profile.email,
        email_verified=profile.email_verified,
        mfa_enabled=False,
        created_at=profile.created_at,
    )
