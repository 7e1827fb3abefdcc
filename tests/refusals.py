"""The shape every refusal of bad input must have: exit code 2, the message, one line, no traceback."""


def assert_refused(exit_code: int, output: str, message: str) -> None:
    assert exit_code == 2, output
    assert message in output, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
