"""The core clients an adapter uses, made again whenever its settings change.

Both adapters keep one `ClientCache`: a copy or an assignment that changes a setting gets new
clients on its next call, and a pickle or a deep copy starts empty (clients are never copied).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stepfun_core.client import AsyncStepFunClient, StepFunClient
from stepfun_core.settings import SETTING_NAMES, Settings


def read_settings(owner: object, renames: Mapping[str, str]) -> tuple[Any, ...]:
    """An adapter's values for every setting, in `SETTING_NAMES` order (its own field names)."""
    return tuple(getattr(owner, renames.get(name, name)) for name in SETTING_NAMES)


def settings_from(values: tuple[Any, ...]) -> Settings:
    """Check an adapter's values (from `read_settings`) and make the settings."""
    options = dict(zip(SETTING_NAMES, values, strict=True))
    key = options["api_key"]
    if hasattr(key, "get_secret_value"):  # a pydantic SecretStr
        options["api_key"] = key.get_secret_value()
    return Settings.make(**options)


class ClientCache:
    """The core clients of one adapter instance, kept while its settings stay the same.

    The settings are compared as the adapter's raw values on every call (about a microsecond),
    and made again only when they change. Its one entry is replaced whole, so threads sharing
    the adapter never see a half-made one.
    """

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        self._entry: tuple[tuple[Any, ...], Settings, dict[bool, Any]] | None = None

    def settings(self, values: tuple[Any, ...]) -> Settings:
        """The settings for these values (the cached ones if they did not change)."""
        return self._current(values)[1]

    def client(self, values: tuple[Any, ...], http: Any, *, asynchronous: bool) -> Any:
        """The sync or async core client for these values and the caller's HTTP client."""
        clients = self._current(values)[2]
        client = clients.get(asynchronous)
        if client is None or client._http_client is not http:
            kind: Callable[..., Any] = AsyncStepFunClient if asynchronous else StepFunClient
            client = clients[asynchronous] = kind(self.settings(values), http_client=http)
        return client

    def _current(self, values: tuple[Any, ...]) -> tuple[Any, Settings, dict[bool, Any]]:
        entry = self._entry
        if entry is None or entry[0] != values:
            entry = self._entry = (values, settings_from(values), {})
        return entry

    def __reduce__(self) -> tuple[type[ClientCache], tuple[()]]:
        """A pickle or a copy starts empty: clients are made again from the settings."""
        return (ClientCache, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> ClientCache:
        """A deep copy starts empty (the caller's HTTP client is never copied)."""
        return ClientCache()
