"""`policy-agent serve-script`: serves until Ctrl-C, and refuses what it should."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.scripted import Script, ScriptedServer
from tests._waiting import DEADLINE_S, read_line, stop_with_ctrl_c

FIXTURES = Path(__file__).parent / "fixtures"


def test_serves_the_script_until_interrupted() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "policy_agent",
            "serve-script",
            str(FIXTURES / "example.yaml"),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = read_line(process.stdout, "serve-script's first line")
        assert first.startswith(f"Serving {FIXTURES / 'example.yaml'} at http://127.0.0.1:")
        base_url = first.rsplit(" ", 1)[1].strip()
        assert (
            read_line(process.stdout, "serve-script's second line")
            == "Models: hosted_vllm/agent, hosted_vllm/user. Press Ctrl-C to stop.\n"
        )
        with urllib.request.urlopen(f"{base_url}/models", timeout=DEADLINE_S) as response:
            assert [m["id"] for m in json.load(response)["data"]] == ["agent", "user"]
    finally:
        out, err = stop_with_ctrl_c(process)
    assert process.returncode == 0, err
    assert out == "Stopped.\n"


def test_refuses_a_non_loopback_host_without_allow_remote() -> None:
    result = CliRunner().invoke(
        main, ["serve-script", str(FIXTURES / "example.yaml"), "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2
    assert "add --allow-remote if you mean it" in result.output


def test_a_bad_script_is_reported_with_file_and_line() -> None:
    result = CliRunner().invoke(main, ["serve-script", str(FIXTURES / "bad.yaml")])
    assert result.exit_code == 1
    assert (
        f"Error: 4 problems in the script:\n  {FIXTURES / 'bad.yaml'}:5: roles.agent.answers[1]:"
        in result.output
    )


def test_a_port_in_use_says_to_choose_another() -> None:
    busy = Script.model_validate({"roles": {"agent": {"answers": ["x"]}}})
    with ScriptedServer(busy) as server:
        port = server.base_url.rsplit(":", 1)[1].removesuffix("/v1")
        result = CliRunner().invoke(
            main, ["serve-script", str(FIXTURES / "example.yaml"), "--port", port]
        )
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "choose another --port" in result.output
