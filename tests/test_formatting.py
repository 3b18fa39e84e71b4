"""Formatting: a small Markdown subset as sanitized HTML; raw HTML and dangerous links never get through."""

from html.parser import HTMLParser

import pytest

from chat.messages.formatting import ALLOWED_TAGS, render_markdown
from tests.test_everyday import Person, received


class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_safe(html):
    """No element, attribute or link that could run script or leave the allow-list."""
    if html is None:
        return
    assert "<script" not in html.lower()
    for tag, attrs in Elements(html).tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert not name.lower().startswith("on"), (tag, name)
            assert name in {"href", "rel", "target"} and tag == "a", (tag, name)
            if name == "href":
                assert value.lower().startswith(("http://", "https://", "mailto:")), value


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "猫が好き",
        "12:30 and 1/2",
        'a & b "quoted"',
        "5 * 3 = 15",
        "line one\nline two: yes",
        "  spaced out :)  ",
        "",
        "example.com",
        "a@example.com",
        "- not a list",
        "# not a heading",
        "> not a quote",
    ],
)
def test_plain_text_has_no_html(text):
    assert render_markdown(text) is None


@pytest.mark.parametrize(
    "text,html",
    [
        ("**bold** and *italic*", "<p><strong>bold</strong> and <em>italic</em></p>"),
        ("__bold__ _it_", "<p><strong>bold</strong> <em>it</em></p>"),
        ("**太字**です", "<p><strong>太字</strong>です</p>"),
        ("~~gone~~", "<p><s>gone</s></p>"),
        ("run `ls -l`", "<p>run <code>ls -l</code></p>"),
        ("```\nfor x in y:\n    print(x)\n```", "<pre><code>for x in y:\n    print(x)\n</code></pre>"),
        ("    indented: code", "<pre><code>indented: code\n</code></pre>"),
        ("*one*\ntwo", "<p><em>one</em><br>\ntwo</p>"),
        ("*a*\n\nb", "<p><em>a</em></p>\n<p>b</p>"),
    ],
)
def test_the_subset_is_rendered(text, html):
    assert render_markdown(text) == html


def test_links_open_safely_in_a_new_tab():
    html = render_markdown("see [the docs](https://example.com/a?b=1&c=2) or https://example.org/x_y")
    links = [attrs for tag, attrs in Elements(html).tags if tag == "a"]
    assert [a["href"] for a in links] == ["https://example.com/a?b=1&c=2", "https://example.org/x_y"]
    assert all(a["rel"] == "noopener noreferrer" and a["target"] == "_blank" for a in links)
    assert_safe(html)
    mail = render_markdown("write to <mailto:someone@example.com>")
    assert Elements(mail).tags[1][1]["href"] == "mailto:someone@example.com"


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x]( javascript:alert(1))",
        "<javascript:alert(1)>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">click</a>',
        "[x](data:text/html,<script>alert(1)</script>)",
        "[x](vbscript:msgbox(1))",
        "[x](/relative/path)",
        "[x](//evil.example)",
        "**<b>x</b>**",
        "`<script>alert(1)</script>`",
        "```\n<script>alert(1)</script>\n```",
        '[x](https://example.com/" onmouseover="alert(1))',
        '<https://example.com/" onmouseover="alert(1)>',
        "https://example.com/<script>alert(1)</script>",
        '[x](https://example.com "title" onclick="alert(1)")',
        "[<img src=x onerror=alert(1)>](https://example.com)",
        "![img](https://example.com/x.png)",
        "<style>*{}</style><iframe src=https://example.com></iframe>",
    ],
)
def test_hostile_input_is_shown_as_text(text):
    assert_safe(render_markdown(text))


def test_raw_html_is_text_not_markup():
    assert render_markdown("**<b>x</b>**") == "<p><strong>&lt;b&gt;x&lt;/b&gt;</strong></p>"
    assert render_markdown("`<script>`") == "<p><code>&lt;script&gt;</code></p>"
    assert render_markdown("[x](javascript:alert(1))") is None  # no link: the text as written


def test_payloads_carry_html_only_for_formatted_text(app):
    alice, bob = Person(app, "alice"), Person(app, "bob")
    alice.call("create_room", {"room": "fmt"})
    bob.call("join_room", {"room": "fmt"})
    bob.sock.get_received()
    alice.call("room_message", {"room": "fmt", "message": "plain words"})
    alice.call("room_message", {"room": "fmt", "message": "*fancy* <b>words</b>"})
    live = received(bob.sock, "room_message")
    assert "html" not in live[0]
    assert live[1]["html"] == "<p><em>fancy</em> &lt;b&gt;words&lt;/b&gt;</p>"
    assert live[1]["text"] == "*fancy* <b>words</b>"
    page = bob.call("get_history", {"room": "fmt"})["messages"]
    assert ["html" in m for m in page] == [False, True] and page[1]["html"] == live[1]["html"]
    alice.close(), bob.close()
