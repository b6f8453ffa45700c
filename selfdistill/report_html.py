"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no script at all.

Everything shown that came from a session (lesson text, reasons, session ids, run errors) may hold
what a tool printed, so an attacker may control it: every such value goes through `esc`, and the
page's Content-Security-Policy forbids scripts and any outside resource as a second wall.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from selfdistill.lessons import shown_status
from selfdistill.report import (
    CHARTED,
    UNDATED,
    LessonRow,
    Report,
    RunRow,
    SignalDay,
    is_verdict,
)

COLORS = {
    "tool_error": "#d64541",
    "test_failure": "#e8871e",
    "interruption": "#8e5ec7",
    "rejection": "#a0522d",
    "correction": "#d4ac0d",
    "approval": "#2e9e5b",
    "recovery": "#2f80c0",
    "success": "#17a2a2",
}
LEFT, RIGHT = 44, 28  # the charts' margins, shared so their days line up
HELPED_COLOR, HURT_COLOR = "#2e9e5b", "#d64541"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2329;
background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.muted{color:#68727d}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:18px 0}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:4px 18px 16px;
margin-bottom:18px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;
border-bottom:1px solid #eceef1;vertical-align:top}th{font-size:12px;color:#68727d;
text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.lesson-text{max-width:520px;overflow-wrap:anywhere}.trigger{font-weight:600}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;background:#eceef1}
.s-active{background:#d7f0e0;color:#1c6b3c}.s-candidate{background:#e3edf9;color:#23558a}
.s-held{background:#fbeccd;color:#7a5200}.s-retired,.s-rejected{background:#f6dcdc;color:#8a2323}
.v-helping{color:#1c6b3c;font-weight:600}.v-recurring{color:#8a2323;font-weight:600}
.v-mixed{color:#7a5200;font-weight:600}.verdict{white-space:nowrap}.v-unmeasured,.v-unpublished{color:#68727d}
.reason{font-size:12px;color:#7a5200;margin-top:4px;overflow-wrap:anywhere}
details summary{cursor:pointer;color:#23558a}details ul{margin:4px 0;padding-left:18px;
font-size:12px}.excerpt{color:#454e57;white-space:pre-wrap;overflow-wrap:anywhere;
border-left:2px solid #dde1e6;padding-left:6px;margin:2px 0 4px}
code{font-size:12px;overflow-wrap:anywhere}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;margin:6px 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.empty{color:#68727d;font-style:italic;padding:8px 0}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def label(kind: str) -> str:
    return kind.replace("_", " ")


def short_day(day: str) -> str:
    return day if day == UNDATED else day[5:]  # MM-DD: the year is rarely in doubt on a chart


# --- the signals chart ---------------------------------------------------------------------------


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2, 5 x 10^n at or above `value` (a y axis people can read)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def signals_chart(days: Sequence[SignalDay], width: int = 1100, height: int = 280) -> str:
    """Stacked bars: one per day, one segment per signal kind, each with a hover title."""
    left, right, top, bottom = LEFT, RIGHT, 10, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max((sum(d.counts) for d in days), default=0)
    step = nice_ceiling(max(1, -(-highest // 4)))  # four gridlines a whole, round step apart
    top_value = step * 4
    slot = plot_w / max(len(days), 1)
    bar = max(min(slot * 0.7, 48.0), 2.0)
    every = max(1, len(days) // 16)  # at most ~16 day labels, or they overlap
    parts = [
        f'<svg id="signals-chart" role="img" aria-label="signals per day" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        value = step * i
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceef1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#68727d">{value}</text>'
        )
    for index, day in enumerate(days):
        x = left + slot * index + (slot - bar) / 2
        base = float(top + plot_h)
        parts.append(f'<g class="day" data-day="{esc(day.day)}">')
        for kind, count in zip(CHARTED, day.counts, strict=True):
            if not count:
                continue
            h = plot_h * count / top_value
            base -= h
            parts.append(
                f'<rect class="bar {kind}" x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{COLORS[kind]}"><title>{esc(day.day)}: {count} '
                f"{label(kind)}</title></rect>"
            )
        if index % every == 0:  # the day (month-day) and how many sessions began on it
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" font-size="11" '
                f'text-anchor="middle" fill="#454e57">{esc(short_day(day.day))}</text>'
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 30}" font-size="10" '
                f'text-anchor="middle" fill="#8a939c">n={day.sessions}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def rate_chart(days: Sequence[SignalDay], width: int = 1100, height: int = 130) -> str:
    """Failure signals per session, day by day: fewer sessions should not look like progress."""
    top, bottom = 12, 22
    plot_w, plot_h = width - LEFT - RIGHT, height - top - bottom
    rates = [day.failures_per_session() for day in days]
    ceiling = max(max(rates, default=0.0), 1.0)
    slot = plot_w / max(len(days), 1)
    points = [
        (LEFT + slot * (i + 0.5), top + plot_h - plot_h * rate / ceiling)
        for i, rate in enumerate(rates)
    ]
    parts = [
        f'<svg id="rate-chart" role="img" aria-label="failure signals per session" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for value, y in ((0.0, top + plot_h), (ceiling, float(top))):
        parts.append(
            f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceef1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#68727d">{value:.1f}</text>'
        )
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#d64541" stroke-width="2"/>')
    for (x, y), day, rate in zip(points, days, rates, strict=True):
        parts.append(
            f'<circle class="rate" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#d64541"><title>'
            f"{esc(day.day)}: {rate:.2f} failure signals per session ({day.sessions} "
            f"session(s))</title></circle>"
        )
    parts.append(
        f'<text x="{LEFT}" y="{height - 4}" font-size="11" fill="#68727d">failure signals '
        f"(tool errors, test failures, interruptions, rejections, corrections) per session"
        f"</text></svg>"
    )
    return "".join(parts)


def legend() -> str:
    items = "".join(
        f'<span><i style="background:{COLORS[kind]}"></i>{label(kind)}</span>' for kind in CHARTED
    )
    return f'<div class="legend">{items}</div>'


# --- "did it help" -------------------------------------------------------------------------------


def help_bar(helped: int, hurt: int, width: int = 120) -> str:
    """Helped (green) against recurred (red), to scale with each other; grey when unmeasured."""
    total = helped + hurt
    title = f"{helped} later session(s) helped, {hurt} recurred"
    if total == 0:
        inner = f'<rect width="{width}" height="10" rx="3" fill="#e3e6ea"/>'
    else:
        good = width * helped / total
        inner = (
            f'<rect class="helped" width="{good:.1f}" height="10" fill="{HELPED_COLOR}"/>'
            f'<rect class="hurt" x="{good:.1f}" width="{width - good:.1f}" height="10" '
            f'fill="{HURT_COLOR}"/>'
        )
    return (
        f'<svg class="help-bar" width="{width}" height="10" viewBox="0 0 {width} 10" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>{inner}</svg>'
    )


def evidence_list(row: LessonRow) -> str:
    items = "".join(
        f'<li><code title="{esc(e.uuid or "")}">{esc(e.session_id)}</code> {esc(e.signal)}'
        + (f'<div class="excerpt">{esc(e.excerpt)}</div>' if e.excerpt else "")
        + "</li>"
        for e in row.evidence
    )
    support = sum(not is_verdict(e) for e in row.evidence)
    verdicts = len(row.evidence) - support
    return (
        f"<details><summary>{support} evidence, {verdicts} verdict(s)</summary>"
        f"<ul>{items}</ul></details>"
    )


def lesson_rows(lessons: Sequence[LessonRow]) -> str:
    if not lessons:
        return '<p class="empty">No lessons yet.</p>'
    head = (
        "<tr><th>status</th><th>lesson</th><th class=num>sessions</th><th>evidence</th>"
        "<th class=num>confidence</th><th>published</th><th>did it help</th></tr>"
    )
    rows = []
    for row in lessons:
        reason = row.retire_reason or row.hold_reason
        why = f'<div class="reason">why {esc(row.status)}: {esc(reason)}</div>' if reason else ""
        shown = shown_status(row.status, row.awaiting)
        rows.append(
            f'<tr class="lesson" id="lesson-{esc(row.id)}" data-status="{esc(row.status)}">'
            f'<td><span class="badge s-{esc(row.status)}">{esc(shown)}</span>'
            f'<div class="muted">{esc(row.kind)}</div></td>'
            f'<td class="lesson-text"><span class="trigger">{esc(row.trigger)}</span>: '
            f'<span class="action">{esc(row.action)}</span>'
            f'<div class="muted">from {esc(row.signal or "unknown")} ({esc(row.source)}), '
            f"<code>{esc(row.id[:12])}</code></div>{why}</td>"
            f'<td class="num">{row.supporting_sessions}</td><td>{evidence_list(row)}</td>'
            f'<td class="num">{row.confidence:.2f}</td>'
            f"<td>{esc((row.published_at or 'not yet')[:16].replace('T', ' '))}</td>"
            f"<td>{help_bar(row.helped, row.hurt)}"
            f'<div class="verdict v-{esc(row.verdict)}">{esc(row.verdict)} '
            f'<span class="muted">+{row.helped} / -{row.hurt}</span></div></td></tr>'
        )
    return f"<table id=lessons>{head}{''.join(rows)}</table>"


# --- runs ----------------------------------------------------------------------------------------


def run_rows(runs: Sequence[RunRow]) -> str:
    if not runs:
        return '<p class="empty">No runs yet: <code>selfdistill run</code> makes the first.</p>'
    head = (
        "<tr><th>started</th><th>run</th><th>trigger</th><th class=num>sessions</th>"
        "<th class=num>signals</th><th class=num>lessons (new / activated / retired)</th>"
        "<th class=num>helped / recurred</th><th class=num>cost</th><th>errors</th></tr>"
    )
    rows = []
    for run in reversed(runs):  # newest first
        errors = "".join(f"<div class=reason>{esc(error[:300])}</div>" for error in run.errors)
        rows.append(
            f'<tr class="run"><td>{esc(run.started_at[:19].replace("T", " "))}</td>'
            f"<td><code>{esc(run.id)}</code></td><td>{esc(run.trigger)} ({esc(run.mode)})</td>"
            f'<td class="num">{run.sessions}'
            + (f' <span class="muted">+{run.skipped} skipped</span>' if run.skipped else "")
            + f'</td><td class="num">{sum(run.signals)}</td>'
            f'<td class="num">{run.lessons_generated} ({run.lessons_new} / '
            f"{run.lessons_activated} / {run.lessons_retired})</td>"
            f'<td class="num">{run.helped} / {run.hurt}</td>'
            f'<td class="num">${run.cost_usd:.4f}</td><td>{errors or "none"}</td></tr>'
        )
    return f"<table id=runs>{head}{''.join(rows)}</table>"


# --- the page ------------------------------------------------------------------------------------


def cards(report: Report) -> str:
    active = sum(row.status == "active" for row in report.lessons)
    helped = sum(row.helped for row in report.lessons)
    hurt = sum(row.hurt for row in report.lessons)
    figures = (
        ("runs", len(report.runs) + report.runs_archived),
        ("sessions analysed", report.sessions_analysed),
        ("observations", report.observations),
        ("lessons", f"{active} active / {len(report.lessons)}"),
        ("later sessions helped", helped),
        ("failure recurred", hurt),
    )
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><b>{esc(value)}</b><span class="muted">{name}</span></div>'
            for name, value in figures
        )
        + "</div>"
    )


SOURCE_NOTES = {
    "runs": "Counted from the transcripts each run analysed: each session once, on the day it "
    "began, with its subagents' signals; an entry a resumed session repeats, once.",
    "observations": "No run has recorded session signals yet: tool errors and interruptions as "
    "the hooks saw them, on the day they happened; each session once, on the day it began.",
    "none": "",
}


def signals_section(report: Report) -> str:
    if not report.days:
        body = '<p class="empty">No signals yet: nothing has been analysed.</p>'
    else:
        totals = ", ".join(
            f"{n} {label(kind)}" for kind, n in zip(CHARTED, report.totals(), strict=True)
        )
        body = (
            f"{legend()}{signals_chart(report.days)}{rate_chart(report.days)}"
            f'<p class="muted">{esc(SOURCE_NOTES[report.signal_source])} Totals: {totals}.</p>'
        )
    return f"<section id=signals><h2>Signals over time</h2>{body}</section>"


def render(report: Report) -> str:
    """The whole page, as one string."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>selfdistill report: {esc(report.project)}</title>"
        f"<style>{CSS}</style></head><body><main>"
        f"<h1>selfdistill report</h1><div class=muted><code>{esc(report.project)}</code>, "
        f"generated {esc(report.generated_at)}</div>"
        f"{cards(report)}{signals_section(report)}"
        "<section id=lessons-section><h2>Lessons, their evidence, and whether they helped</h2>"
        '<p class="muted">A lesson is judged by the sessions that start after it is published: '
        "helped when the session did the work it is about without the failure, recurred when "
        "the failure came back anyway.</p>"
        f"{lesson_rows(report.lessons)}</section>"
        f"<section id=runs-section><h2>Runs</h2>{run_rows(report.runs)}</section>"
        "</main></body></html>\n"
    )
