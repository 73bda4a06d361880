"""`redact_url` hides credentials whatever the password holds, and never raises."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from stepfun_core.redact import HIDDEN, redact_url, without_secret

SCHEMES = st.sampled_from(["http", "https", "socks5", "socks5h"]) | st.from_regex(
    r"[a-z][a-z0-9+.-]{0,8}", fullmatch=True
)
HOSTS = st.sampled_from(
    ["proxy.corp", "127.0.0.1", "[::1]", "[fe80::1%25eth0]", "xn--bcher-kva.example", "代理.公司"]
)
PORTS = st.sampled_from(["", ":3128", ":8080", ":1", ":"])
PATHS = st.sampled_from(["", "/", "/v1", "/v1?x=1", "#frag"]) | st.text(max_size=12).map(
    lambda text: "/" + text
)
# Whatever a password may hold: the characters that end a URL's parts, escapes, spaces, unicode.
NASTY = st.sampled_from([*"/#?@:%[] \t\n\\", "%2F", "%40", "://", "密码", "🔑", "\u2028"])
PASSWORDS = st.text(min_size=1) | st.lists(NASTY | st.text(max_size=3), min_size=1).map("".join)


def survivors(password: str, shown: str, visible: str) -> list[str]:
    """Pieces (3 characters or more) of the password in ``shown`` that ``visible`` lacks."""
    pieces = {password[i:j] for i in range(len(password)) for j in range(i + 3, len(password) + 1)}
    return sorted(p for p in pieces if p in shown and p not in visible)


@settings(max_examples=400, deadline=None)
@given(SCHEMES, st.text(max_size=8), PASSWORDS, HOSTS, PORTS, PATHS)
def test_no_piece_of_any_password_survives(
    scheme: str, user: str, password: str, host: str, port: str, path: str
) -> None:
    shown = redact_url(f"{scheme}://{user}:{password}@{host}{port}{path}")
    after = f"{host}{port}{path}".rpartition("@")[2]  # a "@" in the path hides more, not less
    allowed = (f"{scheme}://{HIDDEN}@{after}", f"{scheme}://{HIDDEN}")
    assert shown in allowed
    # The scheme, the mask and the host may happen to hold a piece of the password.
    assume(not any(survivors(password, text, "") for text in allowed))
    assert survivors(password, shown, "") == [], shown


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=8), PASSWORDS, HOSTS, PORTS)
def test_no_scheme_still_hides_the_password(user: str, password: str, host: str, port: str) -> None:
    shown = redact_url(f"{user}:{password}@{host}{port}")
    # A user name can read as a scheme when the password starts with "//" (``ab://...``): that
    # user name and "://" are then shown; nothing else of the password is.
    visible = f"{user}://{HIDDEN}@{host}{port}"
    assert survivors(password, shown, visible) == [], shown


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_string_keeps_nothing_between_its_scheme_and_its_last_at(text: str) -> None:
    shown = redact_url(text)
    if "@" not in text:
        assert shown == text or shown.endswith(HIDDEN)
        return
    prefix, _, rest = shown.partition(HIDDEN)
    assert text.startswith(prefix) and len(prefix) < text.rindex("@") + 1
    assert rest in ("", "@" + text.rpartition("@")[2])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://alice:hunter2@proxy.corp:3128", "http://***@proxy.corp:3128"),
        ("http://alice:pa/ss#w?rd@proxy.corp:3128", "http://***@proxy.corp:3128"),
        ("http://alice:p@ss:w@rd@proxy.corp:3128/", "http://***@proxy.corp:3128/"),
        ("http://alice:pa%2Fss@[::1]:3128", "http://***@[::1]:3128"),
        ("alice:s3cret@proxy.corp:3128", "***@proxy.corp:3128"),
        ("socks5h://bob:ünïcødé 密码@10.0.0.1:1080", "socks5h://***@10.0.0.1:1080"),
        ("http://proxy.corp:3128", "http://proxy.corp:3128"),
        ("https://api.stepfun.ai/v1", "https://api.stepfun.ai/v1"),
        ("proxy.corp:3128", "proxy.corp:3128"),
        ("", ""),
        # A "port" that is no number: a password missing its "@"? Hidden whole.
        ("http://alice:hunter2", "http://***"),
        ("http://alice:s3cret@", "http://***@"),
        ("not a url at all", "***"),
    ],
)
def test_examples(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_key_quoted_inside_a_gateway_s_json_text_is_masked() -> None:
    # Round 14: a key with a quote or a backslash, quoted back by StepFun inside OpenRouter's
    # metadata.raw (JSON text in JSON), is escaped twice: that form was shown.
    key = 'sk-abc"def\\ghi12345xyz'
    raw = json.dumps({"error": {"message": f"bad key {key}"}})
    body = json.dumps({"error": {"message": "Provider returned error", "metadata": {"raw": raw}}})
    shown = without_secret(body, key)
    assert "ghi12345xyz" not in shown and "***" in shown
