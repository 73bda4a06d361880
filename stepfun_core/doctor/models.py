"""Step 4, models: what the key is served beside what our catalog believes.

A served model the catalog lacks still works (it gets safe defaults) but its window and inputs
are guesses, so it is worth a report; a catalog model the key cannot use is normal (retired
models, plan-only models); the model the user names must be served, or every call fails with
404 ``model_invalid``. Where the server states a model's window, reasoning, image input or
effort tiers, each is compared with the catalog, field by field; the named model is then
described as the server states it (what `stepfun_core.learn` makes the clients use).
"""

from __future__ import annotations

from collections.abc import Sequence

from stepfun_core.catalog import ModelInfo, ServedModel, get_model_info, known_models, merged
from stepfun_core.doctor.report import MODELS, Check, Verdict
from stepfun_core.settings import DEFAULT_MODEL

SHOWN = 8  # names listed on one line before "... and N more"


def listed(names: Sequence[str], limit: int = SHOWN) -> str:
    """Names for one line: the first few, then how many more."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def capabilities(info: ModelInfo) -> str:
    """What we believe a model can do, in one phrase."""
    inputs = ["text"] + [
        kind
        for kind, has in (
            ("image", info.image_input),
            ("video", info.video_input),
            ("audio", info.audio_input),
        )
        if has
    ]
    parts = [f"{info.context_window // 1000}K context", "inputs " + "/".join(inputs)]
    if info.reasoning:
        tiers = "/".join(info.reasoning_efforts) or "no effort tiers"
        parts.append(f"reasoning ({tiers})")
    parts.append("tool calling" if info.tool_calling else "no tool calling")
    parts.append("json_schema" if info.json_schema else "no json_schema")
    return ", ".join(parts)


def differences(served: ServedModel) -> list[str]:
    """Each field the server states otherwise than the catalog: ``"field: server (catalog)"``."""
    ours, theirs = get_model_info(served.id), merged(get_model_info(served.id), served)
    fields = ("context_window", "reasoning", "image_input", "reasoning_efforts", "model_type")
    return [
        f"{name} {getattr(theirs, name)!r} (catalog: {getattr(ours, name)!r})"
        for name in fields
        if getattr(theirs, name) != getattr(ours, name)
    ]


def _stated(models: Sequence[ServedModel]) -> Check | None:
    stated = {m.id: differences(m) for m in models if m.known_fields()}
    changed = {name: found for name, found in stated.items() if found}
    if not stated:
        return None
    if not changed:
        detail = f"the server's details of {len(stated)} models agree with the catalog"
        return Check(MODELS, "catalog vs server", Verdict.OK, detail, needed=False)
    detail = "; ".join(f"{name}: {', '.join(found)}" for name, found in changed.items())
    fix = "report it (README, Troubleshooting); stepfun_core.learn() uses what the server states"
    return Check(
        MODELS, "catalog vs server", Verdict.WARN, detail, fix, False, {"differences": changed}
    )


def check_models(models: Sequence[ServedModel], named: str | None) -> list[Check]:
    """The lines comparing the served list with the catalog, and the named (or default) model."""
    catalog = set(known_models())
    served = [m.id for m in models]
    checks = [Check(MODELS, "served", Verdict.INFO, listed(served), data={"served": [*served]})]
    unknown = [m for m in served if m not in catalog]
    if unknown:
        detail = f"the catalog lacks {listed(unknown)}: they get safe defaults (32K, text only)"
        fix = "report them (README, Troubleshooting) so the catalog can learn their capabilities"
        checks.append(
            Check(MODELS, "catalog gaps", Verdict.WARN, detail, fix, False, {"models": unknown})
        )
    missing = sorted(catalog - set(served))
    if missing:
        # All of them: "can I use X?" is the question this line answers.
        detail = f"catalog models this key cannot use: {listed(missing, len(missing))}"
        checks.append(Check(MODELS, "not served", Verdict.INFO, detail, data={"models": missing}))
    stated = _stated(models)
    if stated is not None:
        checks.append(stated)
    checks.append(_model_check(models, named))
    return checks


def _model_check(models: Sequence[ServedModel], named: str | None) -> Check:
    model = named or DEFAULT_MODEL
    served = [m.id for m in models]
    info = get_model_info(model)
    for stated in (m for m in models if m.id == model):
        info = merged(info, stated)
    belief = capabilities(info) + ("" if info.known else " (not in our catalog: safe defaults)")
    data = {"model": model, "served": model in served, "known": info.known}
    if model in served:
        return Check(MODELS, model, Verdict.OK, f"served; {belief}", data=data)
    fix = f"pick a served model ({listed(served)})"
    if named is None:
        detail = f"the default model is not served to this key; {belief}"
        return Check(MODELS, model, Verdict.WARN, detail, fix, needed=False, data=data)
    return Check(MODELS, model, Verdict.FAIL, f"not served to this key; {belief}", fix, data=data)
