"""Message formatting: a safe subset of Markdown, rendered and sanitized on the server.

The subset: bold, italic, strikethrough, inline code, fenced and indented code blocks, links
`[text](url)` and URLs written out (http, https, mailto only), line breaks and paragraphs.
Raw HTML in a message is text, never markup: markdown-it-py escapes it (html=False), and
nh3's allow-list is the final gate on whatever markdown-it produced.
"""

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

# A message with none of these characters has no formatting (links need ':'): most messages
# stop here, before any parsing.
MARKUP = re.compile(r"[*_`\[\]<>&:/\\~]")

LINK_SCHEMES = ("http:", "https:", "mailto:")
ALLOWED_TAGS = {"p", "br", "strong", "em", "s", "code", "pre", "a"}


def safe_link(url):
    """Only absolute http, https and mailto links become links (not relative, javascript:, data:)."""
    return url.strip().lower().startswith(LINK_SCHEMES)


def build_parser():
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True, "xhtmlOut": False})
    md.enable(["linkify", "strikethrough"])
    # Only the subset above: no headings, lists, quotes, rules, images, reference definitions.
    md.disable(["heading", "lheading", "list", "blockquote", "hr", "reference", "html_block", "image", "html_inline"])
    # Auto-links only for URLs written with their scheme: "example.com" stays text.
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
    md.validateLink = safe_link
    return md


_parser = build_parser()
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes={"a": {"href"}, "*": set()},  # "*": none of ammonia's default generic ones (title, lang)
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel="noopener noreferrer",
    set_tag_attribute_values={"a": {"target": "_blank"}},
)


def plain_paragraph(text):
    """What markdown-it renders for a text without formatting: one paragraph, a <br> per line."""
    lines = [escapeHtml(line.strip()) for line in text.strip().split("\n")]
    return "<p>" + "<br>\n".join(lines) + "</p>\n"


def render_markdown(text):
    """The text's formatting as sanitized HTML, or None when it is plain text."""
    if not MARKUP.search(text):
        return None
    return _render(text)


@lru_cache(maxsize=2048)
def _render(text):
    html = _parser.render(text)
    if html == plain_paragraph(text):
        return None  # "a & b", "12:30", "1/2": the characters are there, the formatting is not
    return _cleaner.clean(html).strip() or None
