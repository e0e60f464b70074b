"""Target files are validated strictly: a typo is an error naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance import cli, pytest_run, run_command
from conformance.report.model import Report
from conformance.target.deadline import Limits
from conformance.target.file import TargetFileError, load


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.toml"
    path.write_text(text)
    return path


def test_a_full_target_file_is_read(tmp_path: Path) -> None:
    spec = load(
        _write(
            tmp_path,
            'issuer = "https://as.test"\nprofile = "mcp-2025-11-25"\n'
            '[user]\nname = "bob"\npassword = "pw"\n'
            '[authorization]\nscope = "openid"\n[login]\napprove_selector = "text=Allow"\n',
        )
    )
    assert spec.issuer == "https://as.test" and spec.profile == "mcp-2025-11-25"
    assert (spec.user, spec.password) == ("bob", "pw")
    assert spec.params == {"scope": "openid"} and spec.login == {"approve_selector": "text=Allow"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('issuer = "https://as.test"\nisuer = "x"\n', "unknown key 'isuer'"),
        ('issuer = "https://as.test"\n[user]\nnmae = "x"\n', r"\[user\]: unknown key 'nmae'"),
        ('issuer = "https://as.test"\n[login]\napprove = "x"\n', "unknown key 'approve'"),
        ('issuer = "https://as.test"\nprofile = "cimd-99"\n', "profile 'cimd-99'"),
        ("issuer = 3\n", "'issuer' must be a str"),
        ('[user]\nname = "x"\n', r"give issuer or mcp_server \(exactly one\)"),
        ('issuer = "https://a"\nmcp_server = "https://m/mcp"\n', r"\(exactly one\)"),
        ('issuer = "https://as.test\n', "not valid TOML"),
        ('issuer = "https://a"\n[timeouts]\nexchange = 0\n', "'exchange' must be a number of"),
        ('issuer = "https://a"\n[timeouts]\nrun = "1h"\n', "'run' must be a number of seconds"),
        ('issuer = "https://a"\n[timeouts]\ncheck = inf\n', "'check' must be a number of"),
        ('issuer = "https://a"\n[timeouts]\ntotal = 9\n', r"\[timeouts\]: unknown key 'total'"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TargetFileError, match=message):
        load(_write(tmp_path, text))


def test_timeouts_come_from_options_then_the_target_file_then_the_defaults(
    tmp_path: Path,
) -> None:
    spec = load(_write(tmp_path, 'issuer = "https://a"\n[timeouts]\nexchange = 3\ncheck = 40\n'))
    assert spec.timeouts == {"exchange": 3.0, "check": 40.0}
    args = cli.parser().parse_args(["run", "--target", "t.toml", "--check-timeout", "7.5"])
    run_command._resolve(args, spec)
    config = pytest_run.run_config_for(args, ["https://a"])
    assert config.limits == Limits(exchange_s=3.0, check_s=7.5, run_s=Limits().run_s)


def test_a_broken_target_file_exits_2_with_a_report(tmp_path: Path) -> None:
    target = _write(tmp_path, 'issuer = "https://127.0.0.1:9"\n[login]\nsubmit = "x"\n')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--target",
            str(target),
            "--report-dir",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown key 'submit'" in done.stderr
    assert "unknown key 'submit'" in Report.load(tmp_path / "r" / "report.json").preflight["error"]


def test_target_ca_is_relative_to_the_file_and_ports_are_checked(tmp_path: Path) -> None:
    spec = load(
        _write(
            tmp_path,
            'issuer = "https://as.test"\ntarget_ca = "certs/ca.pem"\n'
            "[metadata_host]\nport = 8443\nplain_port = 8080\nuntrusted_port = 8444\n",
        )
    )
    assert spec.target_ca == str(tmp_path / "certs" / "ca.pem")
    assert spec.metadata_host == {"port": 8443, "plain_port": 8080, "untrusted_port": 8444}
    with pytest.raises(TargetFileError, match=r"\[metadata_host\] plain_port must be 0 to 65535"):
        load(_write(tmp_path, 'issuer = "https://as.test"\n[metadata_host]\nplain_port = 70000\n'))


def test_bad_tls_listeners_take_ports_and_public_urls(tmp_path: Path) -> None:
    lines = ['issuer = "https://as.test"', "[metadata_host]", 'public_url = "https://m.test"']
    for kind, port in (("expired", 8445), ("wrong_name", 8446), ("self_signed", 8447)):
        lines += [f"{kind}_port = {port}", f'{kind}_public_url = "https://{kind}.m.test"']
    spec = load(_write(tmp_path, "\n".join(lines) + "\n"))
    assert spec.metadata_host["wrong_name_port"] == 8446
    assert spec.metadata_host["self_signed_public_url"] == "https://self_signed.m.test"
    with pytest.raises(TargetFileError, match=r"expired_port must be 0 to 65535"):
        load(_write(tmp_path, 'issuer = "https://as.test"\n[metadata_host]\nexpired_port = -1\n'))
    with pytest.raises(TargetFileError, match=r"needs public_url with the other URLs"):
        load(_write(tmp_path, 'issuer = "a"\n[metadata_host]\nexpired_public_url = "https://e"\n'))
