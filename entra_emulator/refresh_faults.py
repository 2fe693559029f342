"""Test faults of the refresh grant: an answer that describes someone other than the refresh token's user.

A relying party must refuse it: OpenID Connect Core 1.0 §12.2 requires the ID
token of a refresh to carry the ``iss`` and ``sub`` of the sign-in's ID token,
and Entra keys a user on ``oid`` + ``tid``. Real Entra never answers so; the
fault stands for a mixed-up token cache, a bug, or a tampered answer, so that
a client's refusal can be tested for real. Asked for through
``/_emulator/token-faults`` (``other_user``: another user of the same tenant;
``other_tenant``: a user of another tenant) and taken by the next refresh of
that client: ``token_type`` ``any`` makes the whole answer (access, ID and
refresh token, ``client_info``) that user's, ``id_token`` only its ID token.
"""

from __future__ import annotations

from dataclasses import dataclass

from .manifest import Manifest, Registration, User
from .state import EmulatorState
from .tokens import TokenIssuer


@dataclass(frozen=True)
class RefreshAnswerFault:
    stranger: User
    id_token_only: bool

    def answering_user(self, user: User) -> User:
        """Whom the answer's access and refresh tokens (and ``client_info``) describe."""
        return user if self.id_token_only else self.stranger

    def finish(self, response: dict, issuer: TokenIssuer, client: Registration, sid: str) -> dict:
        if self.id_token_only and "id_token" in response:
            response["id_token"] = issuer.id_token(user=self.stranger, client=client, nonce=None, sid=sid,
                                                   grant="refresh_token")
        return response


def take(state: EmulatorState, manifest: Manifest, client_id: str, user: User) -> RefreshAnswerFault | None:
    """The fault the next refresh of ``client_id`` for ``user`` carries, if a test asked for one."""
    fault = state.take_refresh_identity_fault(client_id)
    if fault is None:
        return None
    if fault.kind == "other_user":
        strangers = [u for u in manifest.users_of(user.tenant) if u.oid != user.oid]
    else:
        strangers = [u for u in manifest.users if u.tenant != user.tenant]
    if not strangers:
        return None  # a manifest with nobody else: nothing to switch to
    return RefreshAnswerFault(strangers[0], id_token_only=fault.token_type == "id_token")
