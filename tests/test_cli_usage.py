"""Usage errors exit 1 with the mistyped command's usage, never 2 (the code of "changes
pending" for `plan --detailed-exitcode` and a bit of `drift`); no option is matched by
prefix; --help and --version still exit 0."""

import subprocess
import sys

import pytest

from helpers.cli import STARTER, run, writes
from reconciler.cli.main import main
from reconciler.cli.parser import build_parser
from reconciler.cli.usage import UsageParser


def usage_error(capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main(argv, environ={})
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


@pytest.mark.parametrize("argv, command, message", [
    (["plan", "--det"], "plan", "unrecognized arguments: --det"),
    (["apply", "--au", STARTER], "apply", "unrecognized arguments: --au"),
    (["drift", "--bogus"], "drift", "unrecognized arguments: --bogus"),
    (["plan", "--format"], "plan", "argument --format: expected one argument"),
    (["plan", "--format", "xml"], "plan", "argument --format: invalid choice: 'xml'"),
    (["apply", "--parallelism", "0"], "apply", "argument --parallelism: '0' is not a whole number"),
    (["apply", "--lock=maybe"], "apply", "argument --lock: 'maybe': use true or false"),
    (["drift", "--expiry-window", "soon"], "drift", "argument --expiry-window"),
    (["emulator", "--reading", "no-such-reading"], "emulator", "argument --reading: unknown reading"),
    (["emulator", "--latency-ms", "x"], "emulator", "argument --latency-ms: not a number"),
    (["emulator", "--thr"], "emulator", "unrecognized arguments: --thr"),
    (["force-unlock"], "force-unlock", "the following arguments are required: LOCK_ID"),
])
def test_usage_error_exits_1_with_the_commands_usage(capsys, argv, command, message):
    code, out, err = usage_error(capsys, argv)
    assert code == 1
    assert out == ""
    assert err.startswith(f"usage: b2ckeys {command} ")
    (error,) = [line for line in err.splitlines() if "error:" in line]
    assert error.startswith(f"b2ckeys {command}: error: ") and message in error
    assert err.rstrip("\n").splitlines()[-1] == error  # the error is the last line, once


@pytest.mark.parametrize("argv, message", [
    (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
    ([], "the following arguments are required: COMMAND"),
    (["--nope"], "the following arguments are required: COMMAND"),
])
def test_usage_error_without_a_command_shows_the_main_usage(capsys, argv, message):
    code, _, err = usage_error(capsys, argv)
    assert code == 1
    assert err.startswith("usage: b2ckeys [-h]") and f"b2ckeys: error: {message}" in err


def test_no_option_is_matched_by_prefix():
    parsers = [build_parser()]
    parsers += [sub for action in parsers[0]._actions if hasattr(action, "choices") and isinstance(action.choices, dict)
                for sub in action.choices.values()]
    assert len(parsers) > 10 and "emulator" in {p.prog.split()[-1] for p in parsers}
    for parser in parsers:
        assert isinstance(parser, UsageParser) and parser.allow_abbrev is False, parser.prog


def test_full_option_names_still_work(emu, env, capsys):
    code, out, err = run(capsys, ["plan", "--detailed-exitcode", STARTER], env)
    assert code == 2 and "Plan: 3 key sets to create" in out  # 2 here is changes pending, not usage
    code, out, err = run(capsys, ["apply", "--auto-approve", STARTER], env)
    assert code == 0, err
    assert "Apply complete" in out


def test_a_prefix_of_auto_approve_never_applies(emu, env, capsys):
    code, _, err = usage_error(capsys, ["apply", "--au", STARTER])
    assert code == 1 and "--au" in err
    assert writes(emu) == []


@pytest.mark.parametrize("argv", [["--help"], ["plan", "--help"], ["emulator", "--help"], ["--version"]])
def test_help_and_version_exit_0(argv):
    result = subprocess.run([sys.executable, "-m", "reconciler", *argv], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(("usage: b2ckeys", "b2ckeys "))


def test_the_installed_command_exits_1_on_a_mistyped_option_in_a_shell():
    # as a pipeline sees it: `b2ckeys plan --detailed-exitcod ...; echo $?`
    result = subprocess.run([sys.executable, "-m", "reconciler", "plan", "--detailed-exitcod", STARTER],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "b2ckeys plan: error: unrecognized arguments: --detailed-exitcod"
    assert result.stdout == ""


def test_main_help_states_the_exit_codes():
    text = build_parser().format_help()
    assert "usage error" in text.split("exit codes:")[1].split("2 'plan")[0]
