"""The skip policy (tests/helpers/skip_policy.py): in CI a planted skip fails the run.

Each test runs a small pytest session (pytester, in-process) with the plugin
loaded exactly as tests/conftest.py loads it, and reads its exit code and output.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.skip_policy import load_expected

pytest_plugins = ["pytester"]

PLANTED = """
import pytest

def test_fine():
    pass

def test_planted():
    pytest.skip("planted: the service is down")
"""


@pytest.fixture
def run(pytester, monkeypatch):
    """Run the session with CI set or not, with an optional expected-skips file."""
    monkeypatch.delenv("CI", raising=False)

    def _run(*args, ci=None, expected=""):
        if ci is not None:
            monkeypatch.setenv("CI", ci)
        listed = pytester.path / "expected_skips.txt"
        listed.write_text(expected)
        return pytester.runpytest("-p", "helpers.skip_policy", "--expected-skips", str(listed), *args)

    return _run


def test_planted_skip_fails_in_ci(pytester, run):
    pytester.makepyfile(test_planted=PLANTED)
    res = run(ci="true")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.assert_outcomes(passed=1, failed=1)
    out = res.stdout.str()
    # which and why, in the summary and in the failure itself
    assert "SKIP test_planted.py::test_planted: planted: the service is down [test_planted.py:7] -> FAILED" in out
    assert "SKIPPED IN CI: planted: the service is down" in out
    assert "1 unexpected skip(s): the run FAILS" in out


@pytest.mark.parametrize("value", ["1", "yes", "TRUE"])
def test_every_usual_spelling_of_ci_counts(pytester, run, value):
    pytester.makepyfile(test_planted=PLANTED)
    assert run(ci=value).ret == pytest.ExitCode.TESTS_FAILED


def test_no_skips_flag_without_the_environment(pytester, run):
    pytester.makepyfile(test_planted=PLANTED)
    res = run("--no-skips")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.assert_outcomes(passed=1, failed=1)


def test_outside_ci_a_skip_is_a_skip_but_is_named(pytester, run):
    pytester.makepyfile(test_planted=PLANTED)
    for ci in (None, "false"):
        res = run(ci=ci)
        assert res.ret == pytest.ExitCode.OK
        res.assert_outcomes(passed=1, skipped=1)
        assert "planted: the service is down [test_planted.py:7] -> would fail in CI" in res.stdout.str()


def test_a_listed_skip_is_allowed_with_its_reason(pytester, run):
    pytester.makepyfile(test_planted=PLANTED)
    res = run(ci="true", expected="# comment\ntest_planted.py::test_planted  needs a GPU nobody has\n")
    assert res.ret == pytest.ExitCode.OK
    res.assert_outcomes(passed=1, skipped=1)
    assert "allowed by test_planted.py::test_planted (needs a GPU nobody has)" in res.stdout.str()


def test_a_pattern_allows_only_what_it_matches(pytester, run):
    pytester.makepyfile(test_planted=PLANTED + "\ndef test_other():\n    pytest.skip('other')\n")
    res = run(ci="true", expected="test_planted.py::test_plant* matched by pattern\n")
    res.assert_outcomes(passed=1, skipped=1, failed=1)
    assert "SKIPPED IN CI: other" in res.stdout.str()


def test_an_entry_without_a_reason_is_refused(pytester, run):
    pytester.makepyfile(test_planted=PLANTED)
    res = run(ci="true", expected="test_planted.py::test_planted\n")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "has no reason" in res.stderr.str()


def test_a_stale_entry_is_reported(pytester, run):
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    res = run(ci="true", expected="test_gone.py::test_x  was needed once\n")
    assert res.ret == pytest.ExitCode.OK
    assert "STALE expected_skips.txt entry test_gone.py::test_x" in res.stdout.str()


def test_skipif_mark_and_module_scoped_fixture_skips_fail(pytester, run):
    pytester.makepyfile(test_marks="""
        import pytest

        @pytest.fixture(scope="module")
        def world():
            pytest.skip("token deploy failed")

        @pytest.mark.skipif(True, reason="moto not running")
        def test_marked():
            pass

        def test_a(world):
            pass

        def test_b(world):
            pass
    """)
    res = run(ci="true")
    # a skip in setup (mark or fixture) becomes a setup error, one per test
    res.assert_outcomes(errors=3)
    out = res.stdout.str()
    assert "SKIPPED IN CI: moto not running" in out
    assert out.count("SKIPPED IN CI: token deploy failed") >= 2


def test_module_level_skip_fails_the_session(pytester, run):
    pytester.makepyfile(
        test_ok="def test_ok():\n    pass\n",
        test_module=("import pytest\n"
                     "pytest.skip('anvil chains not running', allow_module_level=True)\n"
                     "def test_never():\n    pass\n"),
    )
    res = run(ci="true")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    res.assert_outcomes(passed=1, skipped=1)
    assert "SKIP test_module.py: anvil chains not running" in res.stdout.str()
    # outside CI the same run passes
    assert run(ci="").ret == pytest.ExitCode.OK


def test_importorskip_of_a_missing_package_fails_in_ci(pytester, run):
    pytester.makepyfile(test_imp="import pytest\nnothere = pytest.importorskip('no_such_package_xyz')\n"
                                 "def test_x():\n    pass\n")
    res = run(ci="true")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    assert "no_such_package_xyz" in res.stdout.str()


def test_maxfail_stops_at_a_planted_skip(pytester, run):
    pytester.makepyfile(test_planted="""
        import pytest

        def test_first():
            pytest.skip("planted")

        def test_second():
            pass
    """)
    res = run("-x", ci="true")
    res.assert_outcomes(failed=1)


def test_xfail_is_not_a_skip(pytester, run):
    pytester.makepyfile(test_x="""
        import pytest

        @pytest.mark.xfail(reason="known bug", strict=True)
        def test_known():
            assert False
    """)
    res = run(ci="true")
    assert res.ret == pytest.ExitCode.OK
    res.assert_outcomes(xfailed=1)


def test_the_project_list_is_valid_and_empty_today():
    path = Path(__file__).resolve().parent.parent / "expected_skips.txt"
    assert path.exists()
    assert load_expected(path) == []
