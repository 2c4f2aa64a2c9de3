"""Reporters: JSON, JUnit and HTML files (registered by name), and the rich console."""

from __future__ import annotations

from netcheck.reports.base import register, registered, write_reports
from netcheck.reports.html import HtmlReporter
from netcheck.reports.jsonreport import JsonReporter, load_record
from netcheck.reports.junit import JunitReporter

register(JsonReporter.name, JsonReporter)
register(JunitReporter.name, JunitReporter)
register(HtmlReporter.name, HtmlReporter)

__all__ = [
    "HtmlReporter",
    "JsonReporter",
    "JunitReporter",
    "load_record",
    "registered",
    "write_reports",
]
