"""What both adapters' models share: their core settings and clients, pickling and copying.

A copy or an assignment that changes a setting gets new clients on its next call; a pickle or
a deep copy starts with none (clients are never copied, the caller's HTTP client is shared).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar, cast

from stepfun_core.client import AsyncStepFunClient, StepFunClient
from stepfun_core.errors import InvalidParameterError, StepFunError, quoted
from stepfun_core.redact import display_url, fingerprint, shown_setting
from stepfun_core.request import merge_extra
from stepfun_core.settings import SETTING_NAMES, Settings, headers_over, timeout_phases
from stepfun_core.transport import refuse_to_pickle, share_in_copy


def revealed(key: Any) -> Any:
    """A key as the core takes it: a pydantic ``SecretStr``'s value, anything else as it is."""
    return key.get_secret_value() if hasattr(key, "get_secret_value") else key


class ClientCache:
    """The core clients of one model, kept while its settings stay the same.

    The model's raw values are compared on every call (about a microsecond); the one entry is
    replaced whole, so threads sharing the model never see a half-made one.
    """

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        self._entry: tuple[tuple[Any, ...], Settings, dict[bool, Any]] | None = None

    def settings(self, values: tuple[Any, ...]) -> Settings:
        """The settings for these values (the cached ones if they did not change)."""
        return self._current(values)[1]

    def client(self, values: tuple[Any, ...], http: Any, *, asynchronous: bool) -> Any:
        """The sync or async core client for these values and the caller's HTTP client."""
        settings, clients = self._current(values)[1:]
        client = clients.get(asynchronous)
        if client is None or client._http_client is not http:
            kind: Callable[..., Any] = AsyncStepFunClient if asynchronous else StepFunClient
            client = clients[asynchronous] = kind(settings, http_client=http)
        return client

    def _current(self, values: tuple[Any, ...]) -> tuple[Any, Settings, dict[bool, Any]]:
        entry = self._entry
        if entry is None or entry[0] != values:  # checked and made, in `SETTING_NAMES` order
            options = dict(zip(SETTING_NAMES, values, strict=True))
            options["api_key"] = revealed(options["api_key"])
            entry = self._entry = (values, Settings.make(**options), {})
        return entry

    def __reduce__(self) -> tuple[type[ClientCache], tuple[()]]:
        """A pickle or a (deep) copy starts empty: clients are made again from the settings."""
        return (ClientCache, ())


_Model = TypeVar("_Model", bound="CoreClients")


def refuse_extra_query(params: Any) -> None:
    """openai-python's ``extra_query`` (URL parameters) would be sent as a body field here."""
    if params and "extra_query" in params:
        msg = "extra_query: put the query in base_url (which one call can also be given)"
        raise InvalidParameterError(msg)


class CoreClients:
    """Mixed into both adapters' pydantic models, which keep a `ClientCache` in ``_clients``."""

    # The model's names for the core's settings where they differ, and for its fields that
    # hold the caller's own sync and async HTTP clients.
    _RENAMES: ClassVar[Mapping[str, str]] = {}
    _HTTP_FIELDS: ClassVar[tuple[str, str]] = ("http_client", "http_async_client")
    # The model's keyword for each core setting (it sets that setting for one call, never
    # sent), and the setting's name.
    _CALL_SETTINGS: ClassVar[dict[str, str]] = {}
    # Other names a caller may give a field (the core's for a setting, the field's aliases,
    # such as model_name): the field's name.
    _OTHER_NAMES: ClassVar[dict[str, str]] = {}
    # The model's field of extra body parameters (``model_kwargs``, ``additional_kwargs``).
    _EXTRA_PARAMS_FIELD: ClassVar[str]
    # The model's values of every setting, in `SETTING_NAMES` order (one C call: read per call).
    _SETTING_VALUES: ClassVar[Callable[[Any], tuple[Any, ...]]]
    _clients: ClientCache

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Name the settings once the model's fields are known (pydantic calls this)."""
        super().__pydantic_init_subclass__(**kwargs)  # type: ignore[misc]
        cls._CALL_SETTINGS = {cls._RENAMES.get(name, name): name for name in SETTING_NAMES}
        cls._SETTING_VALUES = operator.attrgetter(*cls._CALL_SETTINGS)
        cls._OTHER_NAMES = dict(cls._RENAMES)
        for name, info in cls.model_fields.items():  # type: ignore[attr-defined]
            aliases = [info.alias, *getattr(info.validation_alias, "choices", ())]
            cls._OTHER_NAMES.update((a, name) for a in aliases if isinstance(a, str))
        cls._OTHER_NAMES = {k: v for k, v in cls._OTHER_NAMES.items() if k != v}

    def model_copy(
        self: _Model, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> _Model:
        """A copy with ``update`` applied, checked as the constructor checks it."""
        if update:
            update = dict(update)
            self._own_names(update)  # ChatOpenAI's model_name, stop_sequences...
            update = {name: self._assigned(name, value) for name, value in update.items()}
        return super().model_copy(update=update, deep=deep)  # type: ignore[misc,no-any-return]

    @classmethod
    def _own_names(cls, kwargs: dict[str, Any]) -> None:
        """Give a field's own name to a value given under another (the core's, an alias).

        Sent in the body, or dropped, it would do nothing; two values for one field are refused.
        """
        for other in sorted(cls._OTHER_NAMES.keys() & kwargs.keys()) if kwargs else ():
            field, value = cls._OTHER_NAMES[other], kwargs.pop(other)
            if kwargs.get(field) is None:
                kwargs[field] = value
            elif value is not None and kwargs[field] != value:
                msg = f"{other} and {field} are one setting, given two values: give one"
                raise cls._error(InvalidParameterError(msg))

    @classmethod
    def _shown_call_kwargs(
        cls, kwargs: Mapping[str, Any], *, told_apart: bool = False
    ) -> dict[str, Any]:
        """A call's keyword arguments as traces show them, credentials hidden.

        ``told_apart`` (for cache keys): credentials as digests, so that two tenants' calls
        never share a key.
        """
        names, others = cls._CALL_SETTINGS, cls._OTHER_NAMES
        shown = {}
        for key, value in kwargs.items():
            setting = names.get(others.get(key, key))
            hidden = shown_setting("default_headers" if key == "extra_headers" else setting, value)
            told = told_apart and hidden is not value
            shown[key] = fingerprint(revealed(value)) if told else hidden
        return shown

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """Pydantic's repr, with the base URL's query and the extra headers' values hidden."""
        url_field = self._RENAMES.get("base_url", "base_url")
        for name, value in super().__repr_args__():  # type: ignore[misc]
            shown = value
            if name == url_field and value:
                shown = display_url(value)
            elif name == self._EXTRA_PARAMS_FIELD and value and "extra_headers" in value:
                headers = shown_setting("default_headers", value["extra_headers"])
                shown = {**value, "extra_headers": headers}
            yield name, shown

    def _value(self, setting: str) -> Any:
        return getattr(self, self._RENAMES.get(setting, setting))

    def settings(self, **changes: Any) -> Settings:
        """The core client settings as they are now (checked by the core), with ``changes``."""
        return self._clients.settings(type(self)._SETTING_VALUES(self)).replace(**changes)

    @staticmethod
    def _error(error: StepFunError) -> Exception:
        """What to raise for a core error: the error itself, or the adapter's own kind."""
        return error

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, self._assigned(name, value))

    @classmethod
    def _assigned(cls, name: str, value: Any) -> Any:
        """A field's new value, checked as the constructor checks it.

        Assignment (and ``model_copy``) does not validate: extra parameters that are not a dict,
        or no model, would fail every later call untyped.
        """
        if name == "timeout":  # an httpx or httpx2 Timeout as its phases: the field stays JSON
            return timeout_phases(value)
        try:
            if name == "model" and not (isinstance(value, str) and value):
                raise InvalidParameterError(f"model: must be a model's name, got {quoted(value)}")
            if name == cls._EXTRA_PARAMS_FIELD:
                merge_extra({}, value, name)
                refuse_extra_query(value)
                if value and "extra_body" in value:  # OpenAI's name: its fields are body fields
                    merge_extra({}, value["extra_body"], f"{name}['extra_body']")
                return value or {}
        except StepFunError as exc:
            raise cls._error(exc) from None
        return value

    def _core_client(self, asynchronous: bool, kwargs: dict[str, Any]) -> Any:
        """The core client for the current settings and the call's own (``timeout=...``).

        ``extra_headers`` (OpenAI's name), in the model's extra-parameters field and then in
        the call's keyword arguments, are sent as headers over ``default_headers``, as OpenAI's
        integrations send them: never in the body.
        """
        try:
            self._own_names(kwargs)
            refuse_extra_query(kwargs)
            names = self._CALL_SETTINGS
            changes = {names[key]: kwargs.pop(key) for key in names.keys() & kwargs}
            if "api_key" in changes:
                changes["api_key"] = revealed(changes["api_key"])
            model_headers = getattr(self, self._EXTRA_PARAMS_FIELD).get("extra_headers")
            for layer in (model_headers, kwargs.pop("extra_headers", None)):
                if layer is not None:
                    headers = changes.get("default_headers", self._value("default_headers"))
                    changes["default_headers"] = headers_over(headers, layer)
            http = getattr(self, self._HTTP_FIELDS[asynchronous])
            values = type(self)._SETTING_VALUES(self)
            client = self._clients.client(values, http, asynchronous=asynchronous)
            return client.with_settings(**changes) if changes else client
        except StepFunError as exc:
            raise self._error(exc) from None

    @property
    def client(self) -> StepFunClient:
        """The core sync client for the current settings (made again when they change)."""
        return cast(StepFunClient, self._core_client(False, {}))

    @property
    def async_client(self) -> AsyncStepFunClient:
        """The core async client for the current settings (made again when they change)."""
        return cast(AsyncStepFunClient, self._core_client(True, {}))

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle the settings; refuse clearly when the model holds the caller's httpx client."""
        clients = [getattr(self, name) for name in self._HTTP_FIELDS]
        refuse_to_pickle(type(self).__name__, " / ".join(self._HTTP_FIELDS), *clients)
        return super().__getstate__()  # type: ignore[misc, no-any-return]

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        """A deep copy that shares the caller's httpx clients (they are never copied)."""
        clients = [getattr(self, name) for name in self._HTTP_FIELDS]
        return super().__deepcopy__(share_in_copy({} if memo is None else memo, *clients))  # type: ignore[misc]
