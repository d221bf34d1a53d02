"""quire: a human-feedback data platform. `import quire as rg` gives the SDK:

    import quire as rg

    client = rg.Quire(api_url="http://127.0.0.1:6900", api_key="qk_…")
    dataset = rg.Dataset(name="reviews", settings=rg.Settings(...)).create()
    dataset.records.log([{"text": "Great product", "label": "positive"}])

The SDK (`quire.client`) is loaded on first use of one of its names, so that `import quire` stays
cheap and importing the server (`quire.server`) never loads the SDK. See docs/sdk.md.
"""

# ruff: noqa: F405  (__all__ names come from the star import type checkers see)
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from quire import listeners as listeners
    from quire import pipelines as pipelines
    from quire import webhooks as webhooks
    from quire.client import *  # noqa: F403  (the names of __all__ below, for type checkers)

if not TYPE_CHECKING:  # type checkers see the star import above, and catch misspelled names

    def __getattr__(name: str) -> Any:
        if name in _SUBMODULES:  # rg.webhooks, rg.pipelines, rg.listeners
            return importlib.import_module(f"quire.{name}")
        module = _LAZY.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
            globals()[name] = value
            return value
        raise AttributeError(f"module 'quire' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY, *_SUBMODULES})


__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatField",
    "Condition",
    "ConflictError",
    "CustomField",
    "Dataset",
    "DatasetRecords",
    "Datasets",
    "Filter",
    "FloatMetadataProperty",
    "ImageField",
    "IntegerMetadataProperty",
    "LabelQuestion",
    "MultiLabelQuestion",
    "NotFoundError",
    "PermissionDeniedError",
    "Query",
    "Quire",
    "QuireError",
    "RankingQuestion",
    "RateLimitError",
    "RatingQuestion",
    "Record",
    "RecordError",
    "RecordValidationError",
    "RecordsIterator",
    "Response",
    "ResponseStatus",
    "SearchPage",
    "ServerError",
    "Settings",
    "Similar",
    "SpanQuestion",
    "Suggestion",
    "SuggestionError",
    "TaskDistribution",
    "TermsMetadataProperty",
    "TextField",
    "TextQuestion",
    "User",
    "UserResponse",
    "Users",
    "ValidationError",
    "VectorField",
    "Webhook",
    "WebhookEvent",
    "WebhookVerificationError",
    "Webhooks",
    "Workspace",
    "Workspaces",
    "__version__",
    "default_client",
    "listener",
    "log",
    "webhook_handler",
]

# name -> module that defines it, imported on first access
_LAZY = {name: "quire.client" for name in __all__ if name != "__version__"}
# lower-case namespaces: `rg.webhooks` (receiving webhooks; `rg.Webhook` is the resource),
# `rg.pipelines` (pipeline steps), `rg.listeners` (same as `from quire.listeners import …`)
_SUBMODULES = frozenset({"webhooks", "pipelines", "listeners"})
