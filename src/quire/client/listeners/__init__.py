"""Listeners: functions that run in the background on a dataset's records, on a schedule or on
server events (`@rg.listener(...)`, also `from quire.listeners import listener`)."""

from quire.client.listeners.context import ListenerContext
from quire.client.listeners.decorator import listener
from quire.client.listeners.listener import Listener
from quire.client.listeners.metrics import METRIC_NAMES, ListenerMetrics

__all__ = ["METRIC_NAMES", "Listener", "ListenerContext", "ListenerMetrics", "listener"]
