"""Markdown plans and drift reports (pull-request comments, issue bodies) rendered by GitHub's own
cmark-gfm: a `file:` path, a manifest path, a kid or a key set name from the tenant, holding `]`,
`(`, `<`, `|`, backticks, URLs, @mentions or issue references, renders as itself, in its cell,
with no link, image, HTML, mention or reference made from it."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from helpers.model import DAY, NOW, desired, gen, key, live, tenant
from reconciler.core.changes import Action, Change, Duplicate, Plan, Unmanaged
from reconciler.core.diagnostics import Diagnostic, Location, Severity
from reconciler.core.model import DesiredKey, KeyKind, KeyType, KeyUse, SecretRef
from reconciler.plan.drift import drift
from reconciler.render.markdown import render_drift_markdown, render_plan_markdown

HOSTILE = [
    "certs/a]b(c)<d>|e`f.pem",
    "x`|`y.pem",
    "[click](https://evil.example/)",
    "![img](https://evil.example/i.png)",
    "@octocat and @org/team",
    "a\\|b.pem",
    "`` `",
    "https://evil.example/x.pem www.evil.example me@example.com",
    "<img src=x onerror=alert(1)>",
    "a|b|c|d|e.pem",
    "#1 org/repo#12 _x_ *y* ~~z~~ __w__",
    "</pre></details><script>alert(1)</script>",
    "<!-- open comment",
    "&lt;b&gt; &amp; &#64;",
    "<https://evil.example/>",
]
OURS = {"h3", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "code", "ul", "li", "details",
        "summary", "pre", "blockquote"}


class Rendered(HTMLParser):
    """Tags, the text outside code and pre (where GitHub makes mentions and links), all text,
    and the cells of each table row."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.stack: list[str] = []
        self.loose_text, self.all_text = [], []
        self.tables: list[list[list[str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.tables[-1][-1].append("")

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        if not {"code", "pre"} & set(self.stack):
            self.loose_text.append(data)
        data = data.replace("\u200b", "")  # the zero-width spaces text() adds after @ and #1
        self.all_text.append(data)
        if {"td", "th"} & set(self.stack):
            self.tables[-1][-1][-1] += data

    def handle_comment(self, data):
        self.tags.add("<!--")


def render(markdown: str) -> Rendered:
    out = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    parsed = Rendered()
    parsed.feed(out)
    return parsed


def hostile_plan(name: str) -> Plan:
    where = Location(f"manifests/{name}.yaml", 3, 5)
    pfx = DesiredKey(KeyKind.PKCS12, KeyType.RSA, KeyUse.SIG, NOW, NOW + DAY, SecretRef("file", name, where),
                     where, file=SecretRef("file", name, where), x5t="xP9rkHLVlnx0Ujj9mKUrb-TlU7Y")
    sec = DesiredKey(KeyKind.SECRET, KeyType.OCT, KeyUse.ENC, None, None, SecretRef("file", name, where), where)
    return Plan(
        changes=(Change(Action.UPLOAD_PKCS12, "B2C_1A_Idp", pfx, where),
                 Change(Action.UPLOAD_SECRET, "B2C_1A_Fb", sec, where),
                 Change(Action.DISABLE_KEY, "B2C_1A_Idp", kid=name, location=where, detail=name)),
        unmanaged=(Unmanaged("B2C_1A_" + name), Unmanaged("B2C_1A_Idp", name, live(name))),
        warnings=(Diagnostic(Severity.WARNING, f"PKCS#12 file {name}: its thumbprint cannot be read", where),),
        notes=(f"note about {name}",),
        duplicates=(Duplicate("B2C_1A_" + name, ("kept", name), live("kept")),
                    Duplicate("B2C_1A_Fb", (name, "copy"), live(name))),
    )


def hostile_drift(name: str):
    return drift(desired(A=[gen()]),
                 tenant(A=[live("k")], **{name: [key(name, exp=NOW - DAY)], "B": [key(name, nbf=NOW + 3 * DAY)]}),
                 NOW)


def check(markdown: str, name: str) -> None:
    page = render(markdown)
    assert page.tags <= OURS, f"{name!r} made {page.tags - OURS}"  # no a (autolinks too), img, script, em, del
    loose = "".join(page.loose_text)
    assert not re.search(r"(?:^|\W)@[A-Za-z0-9]", loose), "an @mention GitHub would notify"
    assert not re.search(r"(?:^|[^\w])#\d|/[\w.-]+#\d", loose), "an issue reference GitHub would link"
    assert page.tables
    for rows in page.tables:  # a | in the input splits no cell (GFM would drop the extra ones: see below)
        assert all(len(row) == len(rows[0]) for row in rows), rows
    assert name in "".join(page.all_text), f"{name!r} does not render as itself"


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_text_renders_as_itself_in_a_plan_comment(name):
    check(render_plan_markdown(hostile_plan(name)), name)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_from_the_tenant_render_as_themselves_in_a_drift_issue(name):
    check(render_drift_markdown(hostile_drift(name)), name)


def test_the_check_would_see_a_link_a_mention_and_a_broken_table():
    table = "| a | b |\n|---|---|\n| c | d |\n\n"
    with pytest.raises(AssertionError, match="made"):
        check(table + "[x](https://evil.example/) https://evil.example/", "x")
    with pytest.raises(AssertionError, match="mention"):
        check(table + "hello @octocat", "hello")
    with pytest.raises(AssertionError, match="reference"):
        check(table + "see org/repo#12", "see")
    with pytest.raises(AssertionError, match="itself"):  # GFM drops the cells a row has too many
        check("| a | b |\n|---|---|\n| `x|y` | z |\n", "x|y")
    with pytest.raises(AssertionError, match="itself"):
        check(table + "a\\]b", "a\\]b")
