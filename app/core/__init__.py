"""Hearth's engines and stores: plain Python, no Qt.

The switches that keep our libraries from phoning home are set here, on the first import of
anything in app.core, so a script or a test that drives an engine without app.main is covered too
(onnxruntime reads ORT_DISABLE_TELEMETRY once, when it first starts)."""

from app.core import offline as _offline

_offline.apply()
