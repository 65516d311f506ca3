"""Formatting, slow filters and regular expressions are refused before they cost much (finding 2).

`'%(a)500000000s' % {...}` and the `format` filter allocated 500 MB before the output cap saw the
result; `urlize` on 10 MB ran 6.6 s in one call the deadline cannot interrupt; and the regex
engine expands counted repetitions when it compiles. Each hostile template here must fail with
a clear error, quickly, and without allocating more than a few MB on the way.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from integrations.templating import TemplateError, TemplateRenderer, build_template_data
from tests.integrations.helpers import FIRING

DATA = build_template_data([FIRING], receiver="cp", group_key="g", group_labels={}, external_url="http://localhost")
WIDTH = "format width or precision 500000000 exceeds the maximum of 10000"
BIG = "'www.example.com <b>x</b> ' * 80000"  # 2 MB of text with links, tags and words
ITEMS = "('ab' * 17000)|list"  # 34,000 one-letter items: just over the cap (3 units each)


def render(source: str) -> str:
    return TemplateRenderer().render(source, DATA)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ '%(a)500000000s' % {'a': 1} }}", WIDTH),
        ("{{ '%(a).500000000f' % {'a': 1.5} }}", WIDTH),
        ("{{ '%((a))500000000s' % {'(a)': 1} }}", WIDTH),
        ("{{ '%-0500000000d' % 1 }}", WIDTH),
        ("{{ '%%%500000000d' % 1 }}", WIDTH),
        ("{{ '%s%*d' % ('x', 500000000, 1) }}", WIDTH),
        ("{{ '%.*f' % (500000000, 1.5) }}", WIDTH),
        ("{{ '%500000000s'|format(1) }}", WIDTH),
        ("{{ '%(a)500000000s'|format(a=1) }}", WIDTH),
        ("{{ '{:500000000}'.format(1) }}", WIDTH),
        ("{{ '{:.500000000f}'.format(1.5) }}", WIDTH),
        ("{{ '{x:>500000000}'.format_map({'x': 1}) }}", WIDTH),
        ("{{ toJsonPretty(500000000, Alerts) }}", "toJsonPretty indent is longer than 10000 characters"),
        ("{{ Alerts|tojson(indent=500000000) }}", None),  # Jinja's indent is ignored: Go's compact JSON
    ],
)
def test_huge_widths_are_refused_before_anything_is_allocated(source, message):
    tracemalloc.start()
    try:
        if message is None:
            assert len(render(source)) < 10_000
        else:
            with pytest.raises(TemplateError) as caught:
                render(source)
            assert message in str(caught.value)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"{peak / 1e6:.0f} MB allocated before the template was refused"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (f"{{{{ ({BIG})|urlize }}}}", "urlize accepts at most 100000 characters of input"),
        (f"{{{{ ({BIG})|wordwrap(5) }}}}", "wordwrap accepts at most 100000 characters"),
        (f"{{{{ ({BIG})|title }}}}", "title accepts at most 100000 characters"),
        (f"{{{{ title({BIG}) }}}}", "title accepts at most 100000 characters"),
        (f"{{{{ ({BIG})|striptags }}}}", "striptags accepts at most 100000 characters"),
        (f"{{{{ ({BIG})|wordcount }}}}", "wordcount accepts at most 100000 characters"),
        (f"{{{{ ({BIG})|urlencode }}}}", "urlencode accepts at most 100000 characters"),
        (f"{{{{ {ITEMS}|sort }}}}", "sort accepts at most 100000 characters"),
        (f"{{{{ {ITEMS}|map('upper')|sort }}}}", "sort accepts at most 100000 characters"),
        (f"{{{{ {ITEMS}|unique|list }}}}", "unique accepts at most 100000 characters"),
        (f"{{{{ {ITEMS}|groupby('real') }}}}", "groupby accepts at most 100000 characters"),
        ("{{ match('(a{1000}){1000}', 'a') }}", "regular expression is too large"),
        ("{{ match('((a|b){100}){100}', 'a') }}", "regular expression is too large"),
        ("{{ match('a{1001}', 'a') }}", "invalid repeat count in regular expression: at most 1000"),
        ("{{ reReplaceAll('(x{999}){999}', '', 'x') }}", "regular expression is too large"),
        ("{{ match('a' * 5000, 'a') }}", "regular expression is longer than 4096 characters"),
    ],
)
def test_slow_filters_and_huge_patterns_are_refused_quickly(source, message):
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(source)
    assert message in str(caught.value)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ '%5d%%|%-3s|%(x)s' % (42, 'a', 'b') if false else '%5d%%|%-3s' % (42, 'a') }}", "   42%|a  "),
        ("{{ '%(a)4s|%(b).2f' % {'a': 'x', 'b': 1.234} }}", "   x|1.23"),
        ("{{ '%*d' % (5, 123456) }}", "123456"),
        ("{{ '%3s'|format('ab') }}", " ab"),
        ("{{ '{:>4}|{:.1f}'.format('x', 2.25) }}", "   x|2.2"),
        ("{{ ('%10000s' % 'x')|length }}", "10000"),
        ("{{ toJsonPretty('  ', {'a': [1]}) }}", '{\n  "a": [\n    1\n  ]\n}'),
        ("{{ ('word ' * 1000)|wordwrap(20)|length > 0 }}", "true"),
        ("{{ match('^(\\\\d{1,3}\\\\.){3}\\\\d{1,3}$', '10.0.0.1') }}", "true"),
        ("{{ reReplaceAll('(?P<host>[a-z]+)-(\\\\d+)', '${host}#$2', 'db-1 web-22') }}", "db#1 web#22"),
    ],
)
def test_ordinary_formatting_still_works(source, expected):
    assert render(source) == expected
