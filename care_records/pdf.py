"""The monthly report as a printable PDF, in Chinese or English (ReportLab).

Chinese text uses ReportLab's built-in CID font STSong-Light (Adobe's Asian font pack names it;
PDF readers supply the glyphs), so nothing but `pip install reportlab` is needed on a fresh
machine: no font file ships with the hub. Every word comes from the language catalogue.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from care_hub.kernel.i18n import translate
from care_records.schemas import MonthlyReport

CJK_FONT = "STSong-Light"  # ReportLab's CID font for Simplified Chinese (covers Latin too)


@cache
def _font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=22, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2", fontName=font, fontSize=12, leading=17, spaceBefore=8, spaceAfter=3
        ),
        "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=13, wordWrap="CJK"),
        "small": ParagraphStyle(
            "small", fontName=font, fontSize=7.5, leading=10, textColor=colors.grey, wordWrap="CJK"
        ),
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _table(rows: list[list[Any]], style: ParagraphStyle) -> Table:
    data = [[Paragraph(str(c), style) for c in row] for row in rows]
    t = Table(data, repeatRows=1, hAlign="LEFT")
    t.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def render(report: MonthlyReport, *, lang: str = "zh-CN") -> bytes:
    """The report as PDF bytes."""

    def t(key: str, **params: Any) -> str:
        return translate(key, lang, **params)

    st = _styles()
    tz = ZoneInfo(report.timezone) if report.timezone else ZoneInfo("UTC")

    def day(ts: float) -> str:
        return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d")

    story: list[Any] = [
        Paragraph(t("care.pdf.title", month=report.month), st["title"]),
        Paragraph(
            t(
                "care.pdf.who",
                name=report.resident_name,
                room=report.room or "—",
                facility=report.facility or "—",
            ),
            st["body"],
        ),
        Spacer(1, 3 * mm),
        Paragraph(t("care.pdf.activity"), st["h2"]),
    ]
    a = report.activity
    story.append(
        _table(
            [
                [t("care.pdf.measure"), t("care.pdf.value")],
                [t("care.pdf.days_covered"), str(a.days_covered)],
                [t("care.pdf.out_of_bed_h"), _fmt(a.out_of_bed_h_per_day)],
                [t("care.pdf.in_bed_night_h"), _fmt(a.in_bed_night_h)],
                [t("care.pdf.night_bed_exits"), _fmt(a.night_bed_exits_per_night)],
                [t("care.pdf.night_bathroom"), _fmt(a.night_bathroom_per_night)],
            ],
            st["body"],
        )
    )
    story.append(Paragraph(t("care.pdf.vitals"), st["h2"]))
    if report.vitals:
        story.append(
            _table(
                [
                    [
                        t("care.pdf.vital"),
                        t("care.pdf.count"),
                        t("care.pdf.median"),
                        t("care.pdf.range"),
                        t("care.pdf.in_band"),
                        t("care.pdf.score3"),
                    ]
                ]
                + [
                    [
                        f"{v.kind}.{v.name}",
                        str(v.count),
                        _fmt(v.median),
                        f"{_fmt(v.minimum)}–{_fmt(v.maximum)}",
                        _pct(v.in_band),
                        _pct(v.score3),
                    ]
                    for v in report.vitals
                ],
                st["body"],
            )
        )
        story.append(Paragraph(t("care.pdf.bands_note"), st["small"]))
    else:
        story.append(Paragraph(t("care.pdf.none"), st["body"]))
    story.append(Paragraph(t("care.pdf.alerts"), st["h2"]))
    if report.alerts:
        story.append(
            _table(
                [
                    [
                        t("care.pdf.alert_type"),
                        t("care.pdf.count"),
                        t("care.pdf.acknowledged"),
                        t("care.pdf.median_ack"),
                        t("care.pdf.false_alarms"),
                    ]
                ]
                + [
                    [
                        t(f"alert.type.{x.type}"),
                        str(x.count),
                        str(x.acknowledged),
                        "—"
                        if x.median_ack_s is None
                        else t("care.pdf.seconds", s=f"{x.median_ack_s:.0f}"),
                        str(x.false_alarms),
                    ]
                    for x in report.alerts
                ],
                st["body"],
            )
        )
    else:
        story.append(Paragraph(t("care.pdf.none"), st["body"]))
    story.append(Paragraph(t("care.pdf.assessments"), st["h2"]))
    latest = sorted(report.latest.values(), key=lambda x: x.scale)
    if latest:
        story.append(
            _table(
                [
                    [
                        t("care.pdf.scale"),
                        t("care.pdf.date"),
                        t("care.pdf.total"),
                        t("care.pdf.level"),
                    ]
                ]
                + [
                    [
                        t(f"care.scale.{x.scale}"),
                        day(x.assessed_at),
                        f"{x.total} / {x.max_total}",
                        t(f"care.level.{x.scale}.{x.level}"),
                    ]
                    for x in latest
                ],
                st["body"],
            )
        )
    else:
        story.append(Paragraph(t("care.pdf.none"), st["body"]))
    story.append(Paragraph(t("care.pdf.care"), st["h2"]))
    if report.care:
        story.append(
            _table(
                [[t("care.pdf.task"), t("care.pdf.done"), t("care.pdf.declined")]]
                + [[t(f"care.task.{c.kind}"), str(c.done), str(c.declined)] for c in report.care],
                st["body"],
            )
        )
    else:
        story.append(Paragraph(t("care.pdf.none"), st["body"]))
    story.append(Paragraph(t("care.pdf.observations", n=report.observations), st["body"]))
    story.append(Spacer(1, 4 * mm))
    story.append(
        Paragraph(
            t(
                "care.pdf.footer",
                start=day(report.start),
                end=day(report.end - 1),
                tz=report.timezone,
            ),
            st["small"],
        )
    )
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=16 * mm,
        rightMargin=16 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=t("care.pdf.title", month=report.month),
    )
    doc.build(story)
    return buf.getvalue()
