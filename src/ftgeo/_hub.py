"""Is the Hugging Face hub usable? The offline flags, else one quick request, asked once per process.

``huggingface_hub`` retries an unreachable hub five times with back-off (23-70 s and ten printed
lines before the first error). ftgeo asks once, with a short timeout, before it would download
anything; when the hub does not answer, models are loaded from the local cache only
(``local_files_only=True``), which fails at once, with one line, for a model that is not cached.
"""
from __future__ import annotations

import os

__all__ = ["offline_flag", "unreachable_reason", "PROBE_TIMEOUT_S"]

PROBE_TIMEOUT_S = 3.0  # seconds; $FTGEO_HUB_TIMEOUT overrides
_answers: dict[str, str | None] = {}


def _is_set(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def offline_flag(*extra: str) -> str | None:
    """The name of the offline variable that is set (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``, or one
    of ``extra``), else ``None``. Read from the environment at each call, not at import."""
    return next((n for n in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", *extra) if _is_set(n)), None)


def unreachable_reason(timeout: float | None = None) -> str | None:
    """``None`` when the hub endpoint answers one HEAD request (any HTTP status), else a short reason.

    Uses ``huggingface_hub``'s own HTTP session, so its endpoint (``HF_ENDPOINT``), proxy and
    certificate settings apply. One attempt, no retries; the answer is remembered for the process.
    """
    flag = offline_flag()
    if flag:
        return f"{flag} is set"
    try:
        from huggingface_hub import constants
        from huggingface_hub.utils import get_session
    except ImportError:  # pragma: no cover - transformers depends on huggingface_hub
        return "the huggingface_hub package is not installed"
    endpoint = constants.ENDPOINT
    if endpoint not in _answers:
        if timeout is None:
            try:
                timeout = float(os.environ.get("FTGEO_HUB_TIMEOUT", PROBE_TIMEOUT_S))
            except ValueError:
                timeout = PROBE_TIMEOUT_S
        try:
            get_session().head(endpoint, timeout=timeout)
            _answers[endpoint] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable now"
            text = " ".join(str(exc).split()) or type(exc).__name__
            _answers[endpoint] = f"{endpoint} is not reachable ({text})"
    return _answers[endpoint]
