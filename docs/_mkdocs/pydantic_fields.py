"""A griffe extension: fields read as what they are, not as ``Field(...)`` calls.

Without it the API reference shows ``model: str = Field(default=..., validation_alias=...)`` for
each pydantic field (and ``field(default_factory=list)`` for a dataclass's), and a field documented
by ``Field(description=...)`` looks undocumented. With it, a field's value is its default (none is
shown for a ``default_factory``), and its description is its docstring when it has none. Static:
it needs no import of pydantic or the frameworks.
"""

from __future__ import annotations

import ast
from typing import Any

from griffe import Attribute, Docstring, Expr, ExprCall, ExprKeyword, Extension

FIELD_CALLS = ("Field", "field")  # pydantic's, and dataclasses'


class PydanticFields(Extension):
    """Rewrite class attributes whose value is a ``Field(...)`` or ``field(...)`` call."""

    def on_attribute_instance(self, *, node: Any, attr: Attribute, **kwargs: Any) -> None:
        """Show a field's default as its value and its description as its docstring."""
        call = attr.value
        if not (isinstance(node, ast.AST) and attr.parent and attr.parent.is_class):
            return
        if str(call).startswith("self."):  # set in __init__ from other fields: not a default
            attr.value = None
            return
        if not isinstance(call, ExprCall) or str(call.function).split(".")[-1] not in FIELD_CALLS:
            return
        keywords = {a.name: a.value for a in call.arguments if isinstance(a, ExprKeyword)}
        positional = [a for a in call.arguments if not isinstance(a, ExprKeyword)]
        default: str | Expr | None = keywords.get("default", positional[0] if positional else None)
        attr.value = None if default is None or str(default) == "..." else default
        description = keywords.get("description")
        if attr.docstring is None and isinstance(description, str):
            attr.docstring = Docstring(ast.literal_eval(description), parent=attr)
