"""A cookie-keeping HTTP client that walks through sign-in like a user's browser.

For tests and benchmarks (never the app): it follows redirects itself
(recording them), answers the Entra emulator's account picker with a chosen
user, and submits the emulator's ``form_post`` page as that page's script would.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import requests

from entra_auth.http import build_http_session

FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


class Browser:
    """A cookie-keeping client that behaves like a user's browser at the HTTP level.

    It follows redirects itself (recording them), answers the emulator's account
    picker with a chosen user, and submits its ``form_post`` page as the page's
    script would.
    """

    def __init__(self, ca_path: str):
        self.http: requests.Session = build_http_session(ca_path)
        self.history: list[requests.Response] = []

    def get(self, url: str, *, as_user: str | None = None, **kwargs) -> requests.Response:
        return self.follow(self.http.get(url, allow_redirects=False, **kwargs), as_user=as_user)

    def post(self, url: str, data: dict | None = None, *, as_user: str | None = None, **kwargs) -> requests.Response:
        """A form post as a browser sends it from a page of the same site (with its Referer)."""
        headers = {"Referer": url, **kwargs.pop("headers", {})}
        return self.follow(self.http.post(url, data=data, headers=headers, allow_redirects=False, **kwargs),
                           as_user=as_user)

    def follow(self, response: requests.Response, *, as_user: str | None = None) -> requests.Response:
        """Follow redirects, pick ``as_user`` on the emulator's picker, submit form_post pages."""
        for _ in range(20):
            self.history.append(response)
            if response.status_code in (301, 302, 303, 307, 308):
                target = urljoin(response.url, response.headers["Location"])
                response = self.http.get(target, allow_redirects=False)
                continue
            page = response.text if "text/html" in response.headers.get("Content-Type", "") else ""
            if 'id="response-form"' in page:  # the emulator's form_post page: its script submits it
                action, fields = self.form(page)
                response = self.http.post(action, data=fields, allow_redirects=False)
                continue
            if as_user and 'name="request_id"' in page:  # the account picker
                action, fields = self.form(page, base=response.url)
                response = self.http.post(action, data={**fields, "username": as_user}, allow_redirects=False)
                continue
            return response
        raise AssertionError("too many redirects")

    @staticmethod
    def form(page: str, base: str | None = None) -> tuple[str, dict[str, str]]:
        action, body = FORM.search(page).groups()
        fields = {k: html.unescape(v) for k, v in HIDDEN.findall(body)}
        action = html.unescape(action)
        return (urljoin(base, action) if base else action), fields

    def csrf_token(self, page_url: str) -> str:
        page = self.http.get(page_url, allow_redirects=False).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "the page carries a CSRF token"
        return match.group(1)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.http.cookies if c.name == name), None)
