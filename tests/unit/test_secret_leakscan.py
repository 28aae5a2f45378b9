"""The canary scanner must be able to fail: plant canaries, see them caught."""
from __future__ import annotations

import base64
import json
import secrets
import sys
import urllib.parse

import pytest

from helpers.leakscan import LeakScanner
from helpers.playbook import run_playbook

KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
URL = "https://canary-" + secrets.token_hex(6) + ".quiknode.pro/" + secrets.token_hex(16) + "/"


@pytest.fixture
def scanner():
    s = LeakScanner()
    s.add("evm key", KEY)
    s.add("rpc url", URL)
    return s


def test_clean_text_passes(scanner):
    scanner.assert_clean(texts={"stdout": "digest 4c0883a69102 arn:aws:secretsmanager:...:private_key::"})


@pytest.mark.parametrize("encode", [
    lambda v: v,
    lambda v: base64.b64encode(v.encode()).decode(),
    lambda v: base64.b64encode(b"x" + v.encode()).decode(),            # embedded, offset 1
    lambda v: base64.b64encode(b"xy" + v.encode() + b"z").decode(),    # embedded, offset 2
    lambda v: base64.urlsafe_b64encode(b'{"k": "' + v.encode() + b'"}').decode(),
    lambda v: v.encode().hex(),
    lambda v: v.encode().hex().upper(),
    lambda v: json.dumps(json.dumps({"private_key": v})),               # JSON inside JSON
    lambda v: v.replace("/", "\\/"),
    lambda v: urllib.parse.quote(v, safe=""),
], ids=["raw", "b64", "b64-off1", "b64-off2", "b64url-json", "hex", "HEX", "json2", "json-slash", "url"])
@pytest.mark.parametrize("which", ["evm key", "rpc url"])
def test_every_encoding_is_caught(scanner, encode, which):
    value = KEY if which == "evm key" else URL
    text = "TASK [x] ****\nok: [localhost] => " + encode(value) + "\nPLAY RECAP"
    with pytest.raises(AssertionError) as err:
        scanner.assert_clean(texts={"stdout": text})
    msg = str(err.value)
    assert which in msg and "stdout (line 2" in msg
    assert value not in msg  # the report names the place, never the value


def test_files_under_trees_are_scanned(scanner, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "module_args.bin").write_bytes(b"\x00\x01" + KEY.encode() + b"\xff")
    (tmp_path / "clean.txt").write_text("nothing here")
    findings = scanner.scan(trees=[tmp_path])
    assert len(findings) == 1 and "module_args.bin" in findings[0].place and findings[0].label == "evm key"


def test_short_canaries_are_rejected():
    with pytest.raises(ValueError):
        LeakScanner().add("short", "abc")


def test_a_leaking_playbook_run_fails_the_scan(tmp_path):
    """End to end: a playbook that prints a canary (here from the environment)
    is caught by run_playbook's scan of the -vvv output and of the temp dirs."""
    canary = "canary-" + secrets.token_hex(16)
    scanner = LeakScanner()
    scanner.add("planted", canary)
    book = tmp_path / "leaky.yml"
    book.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: \"{{ lookup('env', 'LEAKY') | b64encode }}\"\n"
        "    - ansible.builtin.copy:\n        dest: \"{{ lookup('env', 'TMPDIR') }}/dropped\"\n"
        "        content: \"{{ lookup('env', 'LEAKY') }}\"\n        mode: '0600'\n"
    )
    with pytest.raises(AssertionError) as err:
        run_playbook(book, tmp_path, env={"LEAKY": canary}, scanner=scanner, args=("-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"))
    msg = str(err.value)
    assert "planted" in msg and "stdout" in msg and "dropped" in msg
    assert canary not in msg
