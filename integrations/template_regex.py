"""Regular expressions for templates (`match`, `reReplaceAll`), bounded in time and size.

Python's `re` backtracks and holds the GIL for the whole match: `(a|a)*c` on 27 `a`s froze every
thread of a worker for 17 s. The `regex` package takes a timeout and releases the GIL while it
matches (on str), so a hostile pattern fails its own render at the render's deadline and other
threads keep running. (That timeout counts the CPU time the match used: on a busy machine the
wall-clock time can be longer, never the time other threads wait.) Compiling is not covered by
that timeout, and `regex` expands counted repetitions when it compiles (`(a{1000}){1000}` takes a
second and hundreds of MB), so a pattern's length, each repeat count (Go's own limit, 1000) and
its expanded size are checked first.
"""

from __future__ import annotations

import functools
import re

import regex

from integrations.template_sandbox import (
    LimitExceeded,
    check_deadline,
    check_estimate,
    seconds_left,
    time_limit_error,
)

MAX_PATTERN_CHARS = 4096
MAX_REPEAT_COUNT = 1000  # Go's regexp/syntax: "invalid repeat count" above it
MAX_EXPANDED_SIZE = 10_000  # atoms after counted repetitions are expanded: ~10 ms, ~2 MB to compile
FALLBACK_TIMEOUT_SECONDS = 2.0  # only outside a render (a render always has its deadline)

_COUNTED_REPEAT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def _skip_class(pattern: str, at: int) -> int:
    """The index after the character class that starts at `at` (`[`); `]` first is a member."""
    at += 1
    if pattern.startswith("^", at):
        at += 1
    if pattern.startswith("]", at):
        at += 1
    while at < len(pattern) and pattern[at] != "]":
        at += 2 if pattern[at] == "\\" else 1
    return at + 1


def _repeat_count(pattern: str, at: int) -> tuple[int, int] | None:
    """(count, end) of a `{n}`, `{n,}` or `{n,m}` at `at`, or None when the brace is a literal."""
    found = _COUNTED_REPEAT.match(pattern, at)
    if not found or not (found.group(1) or found.group(2)):
        return None
    numbers = [int(number) for number in found.groups() if number]
    if max(numbers) > MAX_REPEAT_COUNT:
        raise LimitExceeded(f"invalid repeat count in regular expression: at most {MAX_REPEAT_COUNT}")
    return max(numbers), found.end()


def expanded_size(pattern: str) -> int:
    """How many atoms the pattern becomes once counted repetitions are unrolled (an upper bound)."""
    frames = [[0, 0]]  # per open group: [size so far, size of the last atom]
    at = 0
    while at < len(pattern):
        char, frame = pattern[at], frames[-1]
        if char == "(":
            frames.append([0, 0])
            at += 1
            continue
        if char == ")" and len(frames) > 1:
            group = frames.pop()[0]
            frames[-1][0] += group
            frames[-1][1] = group
            at += 1
            continue
        repeat = _repeat_count(pattern, at) if char == "{" else None
        if repeat:
            count, at = repeat
            frame[0] += frame[1] * (count - 1)
            frame[1] *= count
            continue
        if char in "*+?|":
            at += 1
            continue
        at = _skip_class(pattern, at) if char == "[" else at + (2 if char == "\\" else 1)
        frame[0] += 1
        frame[1] = 1
    return sum(frame[0] for frame in frames)


@functools.lru_cache(maxsize=64)  # a compiled pattern may take ~2 MB
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise LimitExceeded(f"regular expression is longer than {MAX_PATTERN_CHARS} characters")
    if expanded_size(pattern) > MAX_EXPANDED_SIZE:
        raise LimitExceeded(
            f"regular expression is too large once its repetitions are expanded (max {MAX_EXPANDED_SIZE})"
        )
    return regex.compile(pattern)


def regex_match(pattern: str, text: str) -> bool:
    """Go's regexp.MatchString: does the pattern match anywhere in the text."""
    compiled = compile_pattern(str(pattern))
    try:
        return compiled.search(str(text), timeout=seconds_left(FALLBACK_TIMEOUT_SECONDS)) is not None
    except TimeoutError:
        raise time_limit_error(fallback_seconds=FALLBACK_TIMEOUT_SECONDS) from None


def _go_expand(replacement: str, found: regex.Match[str]) -> str:
    """Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$; unknown groups expand to ""."""

    def group(ref: re.Match[str]) -> str:
        if ref.group(0) == "$$":
            return "$"
        name = ref.group(1) or ref.group(2)
        try:
            return found.group(int(name) if name.isdigit() else name) or ""
        except IndexError:
            return ""

    return re.sub(r"\$\{(\w+)\}|\$(\w+)|\$\$", group, replacement)


def regex_replace_all(pattern: str, replacement: str, text: str) -> str:
    """Go's Regexp.ReplaceAllString, with Go's $-expansion of the replacement."""
    text = str(text)
    pieces, size, last = [], 0, 0
    try:
        for found in compile_pattern(str(pattern)).finditer(text, timeout=seconds_left(FALLBACK_TIMEOUT_SECONDS)):
            check_deadline()
            piece = text[last : found.start()] + _go_expand(str(replacement), found)
            size += len(piece)
            check_estimate(size)
            pieces.append(piece)
            last = found.end()
    except TimeoutError:
        raise time_limit_error(fallback_seconds=FALLBACK_TIMEOUT_SECONDS) from None
    return "".join(pieces) + text[last:]
