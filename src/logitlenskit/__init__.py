"""logitlenskit: an interactive logit-lens explorer for transformer language models.

Names are imported on first use, so ``import logitlenskit`` stays fast and the collection
API works even where the widget's frontend bundle has not been built.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "core.models",
    "EMBEDDED_MODELS": "core.models",
    "ModelLoadError": "core.models",
    "collect_logit_lens": "analyses.collect",
    "NonFiniteWarning": "core.request",
    "NonFiniteOutputError": "analyses.generation",
    "InvalidDataError": "base.validate",
    "collect_logit_lens_topk_efficient": "analyses.collect",
    "collect_logit_lens_topk": "analyses.collect",
    "decode_tracked_tokens": "analyses.collect",
    "MODEL_CONFIGS": "core.architectures",
    "MODEL_ALIASES": "core.architectures",
    "detect_model_type": "core.architectures",
    "get_model_config": "core.architectures",
    "resolve_accessor": "core.architectures",
    "apply_module_or_callable": "core.architectures",
    "get_value": "core.architectures",
    "to_js_format": "base.formats",
    "to_widget_payload": "base.formats",
    "format_data_for_widget": "base.formats",
    "from_topk_efficient": "base.formats",
    "LogitLensWidget": "live.widget",
    "collect_study": "live.study",
    "Study": "live.study",
    "StudyWidget": "live.study_widget",
    "Target": "core.targets",
    "suggest_targets": "core.targets",
    "resolve_targets": "core.targets",
    "translation_prompts": "analyses.datasets",
    "Patch": "core.edits",
    "PatchBatch": "core.edits",
    "Steer": "core.edits",
    "Ablate": "core.edits",
    "patch_from": "core.interventions",
    "steer": "core.interventions",
    "ablate": "core.interventions",
    "residual": "core.interventions",
    "token_direction": "core.interventions",
    "prompt_direction": "core.interventions",
    "mean_direction": "core.interventions",
    "mean_activation": "core.interventions",
    "patch_sweep": "analyses.patch_sweep",
    "SweepResult": "analyses.patch_sweep",
    "plot_sweep": "output.figure_sweep",
    "fit_lens": "analyses.lens_fit",
    "load_lens": "analyses.lens_store",
    "lens_for": "analyses.lens_resolve",
    "resolve_lens": "analyses.lens_resolve",
    "lens_reliability": "analyses.lens_reliability",
    "FittedLens": "analyses.lens_store",
    "TunedLens": "core.lenses",
    "LinearShortcut": "core.lenses",
    "Patchscope": "core.patchscope",
    "show_logit_lens": "app.display",
    "display_logit_lens": "app.display",
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
