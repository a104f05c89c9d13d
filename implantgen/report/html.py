"""The report's page: one self-contained HTML file (inline CSS, images as data: URIs, no scripts
and no link to anything outside it, so it opens the same offline, from a mail or an archive)."""

from __future__ import annotations

import base64
import html

NOT_AVAILABLE = "not available"

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px;
       color: #1d232b; font-size: 14px; }
h1 { font-size: 22px; margin: 12px 0 4px; }
h2 { font-size: 17px; border-bottom: 2px solid #c9ced6; padding-bottom: 3px; margin-top: 26px; }
h3 { font-size: 14px; margin: 14px 0 4px; }
.banner { background: #b00020; color: #fff; font-weight: bold; font-size: 20px; text-align: center;
          padding: 10px; margin: 10px 0; letter-spacing: 1px; }
.case { font-size: 15px; background: #eef1f5; padding: 8px 10px; }
.key { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.key div { background: #eef1f5; padding: 6px 10px; border-left: 4px solid #3a6ea5; }
.key b { display: block; font-size: 17px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { border: 1px solid #c9ced6; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1b7a32; font-weight: bold; }
.fail { color: #b00020; font-weight: bold; }
.na { color: #6b7480; font-style: italic; }
.figs { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; max-width: 580px; }
figure img { max-width: 100%; border: 1px solid #c9ced6; }
figcaption { font-size: 12px; color: #39414b; }
.warn li { color: #8a4b00; }
code { font-size: 12px; word-break: break-all; }
footer { margin: 30px 0 20px; border-top: 2px solid #c9ced6; padding-top: 8px; font-size: 12px; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def na(text: str = NOT_AVAILABLE) -> str:
    return f'<span class="na">{esc(text)}</span>'


def num(value, unit: str = "", digits: int = 1) -> str:
    """A number for the page (escaped): fixed decimals, or 'not available' for None."""
    if value is None:
        return na()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
        return esc(f"{text} {unit}".strip())
    return esc(value)


def vec(values, digits: int = 1) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")" if values is not None else na()


def verdict(ok: bool | None) -> str:
    if ok is None:
        return na()
    return '<span class="pass">pass</span>' if ok else '<span class="fail">FAIL</span>'


def table(header: list[str], rows: list[list[str]]) -> str:
    """A table whose cells are already HTML (escape with esc/num when building them)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def pairs(rows: list[tuple[str, str]]) -> str:
    """A two-column table: label (plain text), value (HTML)."""
    return "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def section(title: str, body: str, anchor: str | None = None) -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def bullet_list(items: list[str], css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<ul{cls}>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def figure(title: str, caption: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{data}">'
            f"<figcaption><b>{esc(title)}</b>: {esc(caption)}</figcaption></figure>")


def figures(pictures, missing: list[str]) -> str:
    out = '<div class="figs">' + "".join(figure(p.title, p.caption, p.png) for p in pictures) + "</div>"
    return out + "".join(f"<p>{na(m)}</p>" for m in missing)


def page(title: str, body: str, footer: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"{body}<footer>{footer}</footer></body></html>\n")
