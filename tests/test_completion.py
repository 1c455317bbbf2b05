"""`b2ckeys completion bash|zsh`: the bash script is sourced in a real bash and its completion
function driven as bash would on <TAB>; the zsh script's structure is checked (and `zsh -n`
run when zsh is installed). Both come from the real parser: every command and option is there."""

import argparse
import shutil
import subprocess
import sys

import pytest

from helpers.cli import run
from reconciler.cli.parser import build_parser

DRIVER = r"""
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
_shtab_b2ckeys
printf '%s\n' "${COMPREPLY[@]}"
"""


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("completion") / "b2ckeys.bash"
    result = subprocess.run([sys.executable, "-m", "reconciler", "completion", "bash"],
                            capture_output=True, text=True, check=True)
    path.write_text(result.stdout)
    return path


def complete(script, *words):
    """What bash offers for `b2ckeys WORDS...<TAB>` (the last word is the one being completed)."""
    result = subprocess.run(["bash", "-c", DRIVER, "driver", str(script), "b2ckeys", *words],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def commands():
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_bash_completes_a_command(bash_script):
    assert complete(bash_script, "pl") == ["plan"]
    assert sorted(complete(bash_script, "s")) == ["schema", "show"]
    assert set(complete(bash_script, "")) >= set(commands())


def test_bash_completes_an_option_and_its_choices(bash_script):
    assert complete(bash_script, "plan", "--fo") == ["--format"]
    assert complete(bash_script, "plan", "--format", "") == ["text", "json", "markdown"]
    assert complete(bash_script, "show", "p.json", "--format", "m") == ["markdown"]
    assert complete(bash_script, "completion", "") == ["bash", "zsh"]
    assert complete(bash_script, "apply", "--au") == ["--auto-approve"]


def test_bash_offers_every_option_of_every_command(bash_script):
    for name, parser in commands().items():
        options = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
        offered = set(complete(bash_script, name, "--"))
        assert options <= offered, (name, options - offered)


def test_zsh_script_structure(capsys):
    code, script, err = run(capsys, ["completion", "zsh"], {})
    assert code == 0 and err == ""
    assert script.startswith("#compdef b2ckeys")
    for name in commands():
        assert f"\n    {name}:'" in script, name  # each command, with its description
    assert "--format" in script and "(text json markdown)" in script
    assert "--auto-approve" in script and "--detailed-exitcode" in script


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed here: its syntax check cannot run")
def test_zsh_script_parses(tmp_path, capsys):
    script = tmp_path / "_b2ckeys"
    script.write_text(run(capsys, ["completion", "zsh"], {})[1])
    result = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_an_unknown_shell_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        run(capsys, ["completion", "fish"], {})
    assert exited.value.code == 1
    assert "b2ckeys completion: error: argument SHELL: invalid choice: 'fish'" in capsys.readouterr().err


def test_help_does_not_import_shtab():
    code = ("import sys\nfrom reconciler.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('shtab' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "False"
