"""Reporters: JSON and JUnit files (registered by name), and the rich console."""

from __future__ import annotations

from netcheck.reports.base import register
from netcheck.reports.jsonreport import JsonReporter, load_record
from netcheck.reports.junit import JunitReporter

register(JsonReporter.name, JsonReporter)
register(JunitReporter.name, JunitReporter)

__all__ = ["JsonReporter", "JunitReporter", "load_record"]
