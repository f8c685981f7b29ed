"""Login sessions (cookies) and OAuth 2 tokens, with Acumatica's limits.

Sessions model the licence: each cookie login holds one API seat until logout or until it has
been idle for ``session_idle_seconds``; past ``seat_limit`` open sessions a login fails with
"API Login Limit".  OAuth access tokens each own one server session (opened on first use and
ended by ``entity/auth/logout`` with that Bearer token); they do not take cookie seats here
(unverified how real licences count them).  All methods are called under the server lock.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field


@dataclass
class Session:
    token: str  # the .ASPXAUTH cookie value
    session_id: str  # ASP.NET_SessionId
    user: str
    tenant: str
    branch: str
    locale: str
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class Token:
    access_token: str
    client_id: str
    user: str
    tenant: str
    scope: str
    expires_at: float
    session_open: bool = False


@dataclass
class Grant:
    """A refresh token or an authorization code: what it may turn into."""

    client_id: str
    user: str
    scope: str
    redirect_uri: str = ""


class AuthState:
    def __init__(self, *, idle_seconds: float, token_lifetime: float) -> None:
        self.idle_seconds = idle_seconds
        self.token_lifetime = token_lifetime
        self.sessions: dict[str, Session] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.codes: dict[str, Grant] = {}
        #: Every secret value ever handed out (cookie values, tokens, codes), kept after
        #: the session or token dies, so tests can assert none of them reaches a log.
        self.issued: list[str] = []

    # ---- cookie sessions ----------------------------------------------------------------

    def purge(self) -> int:
        """Drop idle sessions and expired tokens; returns how many sessions expired."""
        now = time.monotonic()
        dead = [k for k, s in self.sessions.items() if now - s.last_used > self.idle_seconds]
        for key in dead:
            del self.sessions[key]
        for key in [k for k, t in self.tokens.items() if t.expires_at <= now]:
            del self.tokens[key]
        return len(dead)

    def open_session(self, user: str, tenant: str, branch: str, locale: str) -> Session:
        session = Session(
            secrets.token_hex(32).upper(),
            secrets.token_urlsafe(18)[:24].lower(),
            user,
            tenant,
            branch,
            locale,
        )
        self.sessions[session.token] = session
        self.issued += [session.token, session.session_id]
        return session

    def session(self, cookie_value: str | None) -> Session | None:
        self.purge()
        session = self.sessions.get(cookie_value or "")
        if session is not None:
            session.last_used = time.monotonic()
        return session

    def close_session(self, cookie_value: str | None) -> bool:
        return self.sessions.pop(cookie_value or "", None) is not None

    def expire_all(self) -> None:
        """Fault injection: every session and token dies now (the ERP restarted)."""
        self.sessions.clear()
        self.tokens.clear()

    # ---- OAuth --------------------------------------------------------------------------

    def issue(self, client_id: str, user: str, tenant: str, scope: str) -> dict:
        token = Token(
            secrets.token_hex(32),
            client_id,
            user,
            tenant,
            scope,
            time.monotonic() + self.token_lifetime,
        )
        self.tokens[token.access_token] = token
        self.issued.append(token.access_token)
        body = {
            "access_token": token.access_token,
            "expires_in": int(self.token_lifetime),
            "token_type": "Bearer",
            "scope": scope,
        }
        if "offline_access" in scope.split():
            refresh = secrets.token_hex(32)
            self.refresh_tokens[refresh] = Grant(client_id, user, scope)
            body["refresh_token"] = refresh
            self.issued.append(refresh)
        return body

    def bearer(self, access_token: str) -> Token | None:
        self.purge()
        return self.tokens.get(access_token)

    def new_code(self, grant: Grant) -> str:
        code = secrets.token_hex(24)
        self.issued.append(code)
        self.codes[code] = grant
        return code
