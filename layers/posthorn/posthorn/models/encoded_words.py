"""What RFC 2047 encoded words in a header value decode to, read as leniently as any decoder reads them.

The email package decodes `=?charset?q?...?=` and `=?charset?b?...?=` wherever it parses a header we set (a
subject, a custom header, a display name, even an address's local part) and writes what they decode to back
out; on the CPython releases that do, `=?utf-8?q?a=0D=0AFrom:_ceo@b.test?=` becomes a second `From:` line
of the message, and every other C0 control character goes out raw. So header text must be clean twice: as
written, and as decoded.

"Leniently": a word starts at every `=?` (in or out of quotes, glued to other text or not); its charset and
encoding end at the next two `?`; its text may hold spaces and `?` and ends at the first `?=` after it (or
the next one: decoders disagree), or at the end of the value; q and b in either case; base64 with bad
padding, stray characters or padding in the middle is read every way a decoder reads it; adjacent words in
one charset are also decoded together (a charset such as UTF-7 can spread a character over two words). The
bytes are read in their charset as Python names it (any codec, UTF-7 and `unicode_escape` included) and,
where Python knows no such charset or the bytes do not fit it, as ASCII, which is what the email package
falls back to.
"""

from __future__ import annotations

import base64
import encodings
import encodings.aliases
import pkgutil
import re
from bisect import bisect_left
from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

# RFC 2047 limits a word to 75 characters; a longer one is still decoded by the email package. Past this
# length a word is refused rather than decoded: every `=?` starts a word, and bounding each keeps the check
# linear in the value's length.
MAX_ENCODED_WORD = 998

_LINE_BREAK_OR_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_ASCII_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_CODEC_NAME_PART = re.compile(r"[A-Za-z0-9.]+")
_SPACE = re.compile(r"\s*")
_WORD_END = re.compile(r"(?=\?=)")


class _Word(NamedTuple):
    start: int  # index of `=?`
    end: int  # index after `?=`; -1 for a second reading of a word (never part of a run)
    charset: str  # lower-case, RFC 2231 language removed
    encoding: str  # "q" or "b"
    text: str


_UNSAFE = "must not contain CR, LF or other control characters, not even as RFC 2047 encoded words"
_TOO_LONG = f"must not hold an RFC 2047 encoded word (=?...?=) over {MAX_ENCODED_WORD} characters"


def encoded_word_problem(value: str) -> str | None:
    """What is wrong with the encoded words in `value` (a line break or a control character once decoded,
    or a word too long to check), or None."""
    if "=?" not in value:
        return None
    run: list[_Word] = []  # adjacent words in one charset: decoders also decode them together
    for word in _words(value):
        if word is None:
            return _TOO_LONG
        if any(_unsafe(data, word.charset) for data in _decoded_bytes(word)):
            return _UNSAFE
        if word.end < 0 or (run and word.start < run[-1].end):
            continue  # a second reading, or a word inside the one before: not the next word of a run
        if run and word.charset == run[-1].charset and _SPACE.fullmatch(value, run[-1].end, word.start):
            run.append(word)
            continue
        if len(run) > 1 and _unsafe(b"".join(map(_primary_bytes, run)), run[0].charset):
            return _UNSAFE
        run = [word]
    if len(run) > 1 and _unsafe(b"".join(map(_primary_bytes, run)), run[0].charset):
        return _UNSAFE
    return None


def _words(value: str) -> Iterator[_Word | None]:
    """Every encoded word in `value`, each read to the first `?=` after its text starts; then, where
    there is one within reach, to the next `?=` as well (a reading of its own, not a word for the run).
    None for a word too long to decode."""
    # The end of the value ends a word too: the email package reads `=?utf-8?q?=0A` as `=?utf-8?q?=0A?=`.
    ends = [match.start() for match in _WORD_END.finditer(value)] + [len(value)]
    start = value.find("=?")
    while start != -1:
        first = value.find("?", start + 2)
        second = value.find("?", first + 1) if first != -1 else -1
        if second == -1:
            return
        encoding = value[first + 1 : second].strip().lower()
        index = bisect_left(ends, second + 1)
        if encoding in ("q", "b") and index < len(ends):
            charset = value[start + 2 : first].partition("*")[0].lower()
            end = ends[index]
            if end - second - 1 > MAX_ENCODED_WORD:
                yield None
                return
            yield _Word(start, end + 2, charset, encoding, value[second + 1 : end])
            if index + 1 < len(ends) and ends[index + 1] - second - 1 <= MAX_ENCODED_WORD:
                later = ends[index + 1]
                yield _Word(start, -1, charset, encoding, value[second + 1 : later])
        start = value.find("=?", start + 1)


def _primary_bytes(word: _Word) -> bytes:
    raw = word.text.encode("utf-8", "surrogatepass")
    return _q_decode(raw) if word.encoding == "q" else _b64decode(_NOT_BASE64.sub(b"", raw))


def _decoded_bytes(word: _Word) -> list[bytes]:
    """The bytes each decoder could make of the word's text (non-ASCII text too: email.header passes it
    through as raw-unicode-escape)."""
    texts = [word.text.encode("utf-8", "surrogatepass")]
    if not word.text.isascii():
        texts.append(word.text.encode("raw-unicode-escape"))
    if word.encoding == "q":
        return [_q_decode(raw) for raw in texts]
    raw = texts[0]
    readings = [_b64decode(_NOT_BASE64.sub(b"", raw))]  # stray characters and padding skipped
    if b"=" in raw.rstrip(b"="):  # padding inside: a decoder may end a chunk there
        readings.append(b"".join(_b64decode(_NOT_BASE64.sub(b"", chunk)) for chunk in raw.split(b"=")))
    return readings


def _q_decode(raw: bytes) -> bytes:
    return _Q_ESCAPE.sub(lambda match: bytes([int(match[1], 16)]), raw.replace(b"_", b" "))


def _b64decode(letters: bytes) -> bytes:
    """Base64 letters alone, any length: a dangling sixth of a byte is dropped, padding is added."""
    if len(letters) % 4 == 1:
        letters = letters[:-1]
    return base64.b64decode(letters + b"=" * (-len(letters) % 4))


def _unsafe(data: bytes, charset: str) -> bool:
    """Whether `data`, read as `charset` says, or as ASCII where that fails, holds a line break or a
    control character."""
    codec = _codec(charset)
    if codec is not None:
        try:
            return _LINE_BREAK_OR_CONTROL.search(data.decode(codec)) is not None
        except UnicodeDecodeError:
            try:  # the email package's reading of bytes that do not fit their charset
                if _LINE_BREAK_OR_CONTROL.search(data.decode(codec, "surrogateescape")):
                    return True
            except (UnicodeError, LookupError, TypeError, ValueError):
                pass
        except (UnicodeError, LookupError, TypeError, ValueError):  # a codec, but not one for text
            pass
    return _ASCII_CONTROL.search(data) is not None


def _codec(charset: str) -> str | None:
    """The codec Python would find for `charset`, normalized as `codecs.lookup` normalizes it, or None.

    Only names Python knows are looked up: the encodings package caches every name it fails to find, so
    looking up whatever a client writes would grow that cache without bound."""
    name = "_".join(_CODEC_NAME_PART.findall(charset)).lower()
    if not name or (name not in _known_codec_names() and name.replace(".", "_") not in _known_codec_names()):
        return None
    return name


@cache
def _known_codec_names() -> frozenset[str]:
    modules = {module.name for module in pkgutil.iter_modules(encodings.__path__)}
    aliases = encodings.aliases.aliases
    return frozenset(modules | set(aliases) | set(aliases.values()))
