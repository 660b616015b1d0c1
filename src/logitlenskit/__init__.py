"""logitlenskit: an interactive logit-lens explorer for transformer language models.

Names are imported on first use, so ``import logitlenskit`` stays fast and the collection
API works even where the widget's frontend bundle has not been built.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "models",
    "EMBEDDED_MODELS": "models",
    "ModelLoadError": "models",
    "collect_logit_lens": "collect",
    "NonFiniteWarning": "request",
    "NonFiniteOutputError": "generation",
    "InvalidDataError": "validate",
    "collect_logit_lens_topk_efficient": "collect",
    "collect_logit_lens_topk": "collect",
    "decode_tracked_tokens": "collect",
    "MODEL_CONFIGS": "architectures",
    "MODEL_ALIASES": "architectures",
    "detect_model_type": "architectures",
    "get_model_config": "architectures",
    "resolve_accessor": "architectures",
    "apply_module_or_callable": "architectures",
    "get_value": "architectures",
    "to_js_format": "formats",
    "to_widget_payload": "formats",
    "format_data_for_widget": "formats",
    "from_topk_efficient": "formats",
    "LogitLensWidget": "widget",
    "collect_study": "study",
    "Study": "study",
    "StudyWidget": "study_widget",
    "Target": "targets",
    "suggest_targets": "targets",
    "resolve_targets": "targets",
    "translation_prompts": "datasets",
    "show_logit_lens": "display",
    "display_logit_lens": "display",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'logitlenskit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
