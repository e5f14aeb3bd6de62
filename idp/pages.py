"""Pages about the service: the privacy notice, help, and the operator's logo.

The privacy notice is the same Markdown as ``docs/privacy.md`` (``idp/content/privacy.en.md``
links to it), with its Vietnamese translation beside it, rendered once per language and
kept in memory. Links to other documents of the repository become plain text on the page.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

import markdown
from flask import Blueprint, abort, render_template, send_file
from markupsafe import Markup

from idp import runtime

bp = Blueprint("pages", __name__)
_REPO_LINK = re.compile(r'<a href="(?!https://|#)[^"]*">(.*?)</a>', re.S)


def privacy_language(lang: str) -> str:
    """Return the language the privacy notice is shown in for a page in ``lang``: its
    own when translated, else English (the page then says so in ``lang``)."""
    folder = resources.files("idp").joinpath("content")
    return lang if folder.joinpath(f"privacy.{lang}.md").is_file() else "en"


@functools.cache
def privacy_html(lang: str) -> Markup:
    """Return the privacy notice in ``lang`` (English when no translation) as HTML."""
    folder = resources.files("idp").joinpath("content")
    source = folder.joinpath(f"privacy.{privacy_language(lang)}.md")
    text = source.read_text(encoding="utf-8")
    html = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")
    html = _REPO_LINK.sub(r"\1", html)
    # Wide tables scroll sideways on a phone: the scrolling box takes the keyboard focus.
    html = html.replace("<table>", '<div class="table-scroll" tabindex="0"><table>')
    html = html.replace("</table>", "</table></div>")
    return Markup(html)  # noqa: S704 - rendered from a file shipped with the service


@bp.get("/privacy")
def privacy() -> Any:
    from idp.web import get_locale

    lang = get_locale()
    return render_template(
        "privacy.html", notice=privacy_html(lang), notice_lang=privacy_language(lang)
    )


@bp.get("/help")
def help_page() -> Any:
    return render_template("help.html")


@bp.get("/operator-logo")
def operator_logo() -> Any:
    logo = runtime.settings().operator_logo
    if logo is None:
        abort(404)
    response = send_file(logo, max_age=86400)
    if logo.suffix.lower() == ".svg":
        # An SVG is a document: it may not run script, even opened on its own.
        policy = "default-src 'none'; style-src 'unsafe-inline'"
        response.headers["Content-Security-Policy"] = policy
    return response
