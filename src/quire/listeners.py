"""`from quire.listeners import listener`: the SDK's listeners (see `quire.client.listeners`)."""

from quire.client.listeners import METRIC_NAMES, Listener, ListenerContext, ListenerMetrics, listener

__all__ = ["METRIC_NAMES", "Listener", "ListenerContext", "ListenerMetrics", "listener"]
