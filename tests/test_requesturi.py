"""Request targets parsed as Go's url.ParseRequestURI parses them (and request.go's CONNECT rule).

Every target below was also sent to the Go 1.23.4 reference program: the valid
ones were served, the invalid ones got ``400 Bad Request``.
"""

from __future__ import annotations

import pytest
from keepalive_lab.goserver.requesturi import InvalidURI, RequestURI, escape_path, parse_request_uri


@pytest.mark.parametrize(
    "target, parsed",
    [
        ("*", RequestURI(path="*")),
        ("/a/b?x=1", RequestURI(path="/a/b", raw_query="x=1")),
        ("/%41%2fb", RequestURI(path="/A/b", raw_path="/%41%2fb")),  # decoded, as URL.Path is; RawPath as it came
        ("/\xff", RequestURI(path="/\xff", raw_path="/\xff")),  # a byte above 0x7F is fine in a path
        ("/?%zz", RequestURI(path="/", raw_query="%zz")),  # the query is not checked
        ("/x?", RequestURI(path="/x")),  # ForceQuery: an empty query
        ("//x", RequestURI(path="//x")),  # no scheme: a path, not an authority
        ("http://ex.com", RequestURI(scheme="http", host="ex.com")),
        ("HTTP://ex.com:8080/p?q", RequestURI(scheme="http", host="ex.com:8080", path="/p", raw_query="q")),
        ("http://h:/", RequestURI(scheme="http", host="h:", path="/")),  # an empty port is a port
        ("http://h:1:2/", RequestURI(scheme="http", host="h:1:2", path="/")),  # only the last colon is the port's
        ("http://[::1]:80/", RequestURI(scheme="http", host="[::1]:80", path="/")),
        ("http://[fe80::1%25en0]/", RequestURI(scheme="http", host="[fe80::1%en0]", path="/")),
        ("http://user:pass@h/", RequestURI(scheme="http", host="h", path="/")),
        ("http://%C3%A9/", RequestURI(scheme="http", host="\xc3\xa9", path="/")),  # non-ASCII may be escaped
        # No fragment in a request: "#" is part of the path.
        ("http://h/x#f/../y", RequestURI(scheme="http", host="h", path="/x#f/../y", raw_path="/x#f/../y")),
        ("a:b", RequestURI(scheme="a", opaque="b")),  # rootless: opaque, and not checked further
        ("http:", RequestURI(scheme="http")),
    ],
)
def test_targets_go_accepts(target, parsed):
    assert parse_request_uri(target) == parsed


@pytest.mark.parametrize(
    "target",
    [
        "",
        "x/y",  # neither "*", a path, nor a scheme
        ":x",  # missing protocol scheme
        "1http://h/",  # a scheme starts with a letter
        "/%zz",
        "/%4",
        "/a%",
        "/\x7f",
        "/\t",
        "http://ex.co:m/",  # a port is digits
        "http://[::1/",
        "http://[::1]x/",
        "http://a{b}/",  # an ASCII byte a host cannot hold
        "http://%41/",  # a host may escape only non-ASCII bytes
        "http://a{b@h/",  # nor can userinfo hold it
        "http://u%zz@h/",
        "http://[fe80::1%25%7B]/",  # a zone may escape only what a host could hold unescaped
        "http://[fe80::1%25%C3]/",
    ],
)
def test_targets_go_refuses(target):
    with pytest.raises(InvalidURI):
        parse_request_uri(target)


def test_a_connect_authority_has_a_host_and_no_path():
    # request.go readRequest: "http://" + authority is parsed, then the bogus scheme dropped.
    assert parse_request_uri("ex.com:443", "CONNECT") == RequestURI(host="ex.com:443")
    assert parse_request_uri("/rpc", "CONNECT") == RequestURI(path="/rpc")  # net/rpc's form: a path
    with pytest.raises(InvalidURI):
        parse_request_uri("ex.com:x", "CONNECT")


# What Go 1.23.4's url.ParseRequestURI gives as Path, RawPath and EscapedPath() for each target.
@pytest.mark.parametrize(
    "target, path, raw_path, escaped",
    [
        ("/%41%2fb", "/A/b", "/%41%2fb", "/%41%2fb"),  # RawPath a valid encoding: it is the escaped path
        ("/\xff", "/\xff", "/\xff", "/%FF"),  # RawPath not valid (a non-ASCII byte): Path escaped again
        ("http://h/x#f/../y", "/x#f/../y", "/x#f/../y", "/x%23f/../y"),
        ("//x", "//x", "", "//x"),  # the default encoding gives it back: no RawPath
        ("/a%2f..%2fb/./c", "/a/../b/./c", "/a%2f..%2fb/./c", "/a%2f..%2fb/./c"),
        ("//caf\xc3\xa9/<b>'\"x", "//caf\xc3\xa9/<b>'\"x", "//caf\xc3\xa9/<b>'\"x", "//caf%C3%A9/%3Cb%3E%27%22x"),
        ("/(%2f", "/(/", "/(%2f", "/(%2f"),
        ("/a%20b", "/a b", "", "/a%20b"),
        ("/[x]!'()", "/[x]!'()", "/[x]!'()", "/[x]!'()"),  # validEncoded lets these through; escape would not
        ("/%7e~", "/~~", "/%7e~", "/%7e~"),
        ("/%2e%2e/", "/../", "/%2e%2e/", "/%2e%2e/"),
        ("*", "*", "", "*"),
    ],
)
def test_escaped_path_is_go_s(target, path, raw_path, escaped):
    uri = parse_request_uri(target)
    assert (uri.path, uri.raw_path, uri.escaped_path()) == (path, raw_path, escaped)


def test_escape_path_is_go_s_escape_for_a_path():
    # (&url.URL{Path: ...}).String() in Go 1.23.4: upper-case hex, and only these punctuation bytes kept.
    escaped = "/caf%E9%20x%3F%23%25/;:@&=+$,%21%2A%27%28%29%5B%5D%3C%3E%22~-_."
    assert escape_path("/caf\xe9 x?#%/;:@&=+$,!*'()[]<>\"~-_.") == escaped


def test_a_mebibyte_target_is_checked_without_a_loop_per_character():
    # Regular expressions do the scanning; this runs in milliseconds (benchmarks/huge_heads.py times heads).
    assert parse_request_uri("/" + "%41" * 350_000).path == "/" + "A" * 350_000
    with pytest.raises(InvalidURI):
        parse_request_uri("/" + "a" * 1_000_000 + "%z")
