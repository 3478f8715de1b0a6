"""`trent serve`'s configuration (issue 14): every option as a flag, a
TRENT_* environment variable and a key of `--config FILE` (TOML); a flag
wins over the environment, the environment over the file; an unknown key
is an error; `--print-config` shows the effective configuration with each
value's source, secrets redacted."""

import subprocess
import urllib.request

import boto3
import botocore.config

from conftest import server_environ, trent_binary

SECRET = "configured/secret/not/to/be/printed/0123456789"


def serve(*args, env=None, cwd=None):
    """Runs `trent serve ARGS` to completion (for --print-config and
    refusals); returns (exit code, stdout, stderr)."""
    environment = server_environ()
    environment.update(env or {})
    environment["RUST_BACKTRACE"] = "0"
    result = subprocess.run(
        [str(trent_binary()), "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        cwd=cwd,
    )
    return result.returncode, result.stdout, result.stderr


def printed(stdout):
    """--print-config's lines as {key: (value text, source)}."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("#") or " = " not in line:
            if line.startswith("# ") and " = <redacted>" in line:
                key = line[2:].split(" = ")[0]
                out[key] = ("<redacted>", line.rsplit("# ", 1)[1])
            continue
        key, rest = line.split(" = ", 1)
        value, source = rest.rsplit("  # ", 1)
        out[key] = (value, source)
    return out


def test_a_flag_wins_over_the_environment_which_wins_over_the_file(tmp_path):
    config = tmp_path / "trent.toml"
    config.write_text(
        'region = "eu-west-1"\n'
        "max-connections = 100\n"
        "idle-timeout = 30\n"
        'request-quota = ["CreateKey=9", "iam=4"]\n'
        "unsafe-test-clock = true\n"
        f'bootstrap-access-key-id = "AKIACONFIGFILE000000"\n'
        f'bootstrap-secret-access-key = "{SECRET}"\n'
    )
    config.chmod(0o600)
    code, out, err = serve(
        "--config",
        str(config),
        "--print-config",
        "--region",
        "ap-south-1",
        env={"TRENT_MAX_CONNECTIONS": "200", "TRENT_REGION": "sa-east-1"},
    )
    assert code == 0, err
    values = printed(out)
    assert values["region"] == ('"ap-south-1"', "flag")
    assert values["max-connections"] == ("200", "environment")
    assert values["idle-timeout"] == ("30", "config file")
    assert values["request-quota"] == ('["CreateKey=9", "iam=4"]', "config file")
    assert values["unsafe-test-clock"] == ("true", "config file")
    assert values["header-read-timeout"] == ("10", "default")
    assert values["account-id"] == ('"000000000000"', "default")
    assert values["bootstrap-secret-access-key"] == ("<redacted>", "config file")
    assert SECRET not in out and SECRET not in err
    # Every option can come from the environment, lists comma-separated.
    code, out, err = serve(
        "--print-config",
        env={
            "TRENT_REQUEST_QUOTA": "CreateKey=3,ListKeys=7",
            "TRENT_REQUEST_QUOTAS": "aws",
            "TRENT_BOOTSTRAP_SECRET_ACCESS_KEY": SECRET,
            "TRENT_BOOTSTRAP_ACCESS_KEY_ID": "AKIAENVIRONMENT00000",
        },
    )
    assert code == 0, err
    values = printed(out)
    assert values["request-quota"] == ('["CreateKey=3", "ListKeys=7"]', "environment")
    assert values["request-quotas"] == ('"aws"', "environment")
    assert values["bootstrap-secret-access-key"] == ("<redacted>", "environment")
    assert SECRET not in out


def test_the_printed_configuration_is_a_configuration_file(tmp_path):
    config = tmp_path / "trent.toml"
    config.write_text('request-quotas = "aws"\nmax-connections = 77\n')
    code, out, err = serve("--config", str(config), "--print-config")
    assert code == 0, err
    again = tmp_path / "again.toml"
    again.write_text(out)
    code, out_again, err = serve("--config", str(again), "--print-config")
    assert code == 0, err
    strip = lambda values: {k: v[0] for k, v in values.items()}  # noqa: E731
    assert strip(printed(out_again)) == strip(printed(out))


def test_bad_files_are_refused_with_the_reason(tmp_path):
    cases = {
        "bogus = 1\n": "unknown key \"bogus\"",
        "config = \"other.toml\"\n": "unknown key \"config\"",
        "max-connections = \"many\"\n": "invalid value 'many' for '--max-connections",
        "unsafe-test-clock = \"yes\"\n": "unsafe-test-clock is true or false",
        "region = [\"a\", \"b\"]\n": "region takes one value, not a list",
        "request-quota = [\"Frobnicate=2\"]\n": "names no request quota",
        "listen = \n": "is not valid TOML",
    }
    for text, reason in cases.items():
        config = tmp_path / "bad.toml"
        config.write_text(text)
        code, out, err = serve("--config", str(config), "--print-config")
        assert code != 0, text
        assert reason in err, (text, err)
        assert str(config) in err or "bad.toml" in err, err
    code, _, err = serve("--config", str(tmp_path / "missing.toml"), "--print-config")
    assert code != 0 and "missing.toml" in err


def test_a_file_holding_a_secret_is_refused_unless_private(tmp_path):
    config = tmp_path / "trent.toml"
    config.write_text(f'bootstrap-access-key-id = "AKIACONFIGFILE000000"\nbootstrap-secret-access-key = "{SECRET}"\n')
    config.chmod(0o640)
    code, _, err = serve("--config", str(config), "--print-config")
    assert code != 0
    assert "bootstrap-secret-access-key" in err and "chmod 600" in err and "0640" in err, err
    assert SECRET not in err
    # Without a secret, the mode is the operator's business.
    config.write_text("max-connections = 77\n")
    code, _, err = serve("--config", str(config), "--print-config")
    assert code == 0, err


def test_a_syntax_error_is_reported_without_the_line_it_is_on(tmp_path):
    # toml's own message quotes the line: here, half of a secret.
    config = tmp_path / "trent.toml"
    config.write_text(f'region = "eu-west-1"\nbootstrap-secret-access-key = "{SECRET}\n')
    config.chmod(0o600)
    code, _, err = serve("--config", str(config), "--print-config")
    assert code != 0
    assert "is not valid TOML: line 2, column" in err, err
    assert SECRET not in err and SECRET[:12] not in err, err


def test_a_pair_of_options_may_be_split_between_the_file_and_a_flag(tmp_path):
    config = tmp_path / "trent.toml"
    config.write_text(f'tls-key = "{tmp_path / "key.pem"}"\n')
    code, out, err = serve("--config", str(config), "--tls-cert", str(tmp_path / "cert.pem"), "--print-config")
    assert code == 0, err
    values = printed(out)
    assert values["tls-cert"][1] == "flag" and values["tls-key"][1] == "config file", values
    # Still refused when the file does not complete it.
    config.write_text("max-connections = 77\n")
    code, _, err = serve("--config", str(config), "--tls-cert", str(tmp_path / "cert.pem"), "--print-config")
    assert code != 0 and "--tls-key" in err, err


def test_a_server_runs_from_its_configuration_file(start_trent, tmp_path):
    config = tmp_path / "trent.toml"
    # (The harness gives its own --region and --request-quota flags, which
    # win over the file's.)
    config.write_text('request-quotas = "aws"\nunsafe-test-clock = true\n')
    server = start_trent(extra_args=("--config", str(config)))
    kms = boto3.client(
        "kms",
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )
    key = kms.create_key()["KeyMetadata"]
    assert key["Arn"].startswith("arn:aws:kms:eu-west-1:")
    # The file's settings are in force: the test clock's route exists, and
    # AWS's quotas (CreateKey: 5 a second).
    request = urllib.request.Request(f"{server.url}/_trent/clock/advance?seconds=1", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    codes = []
    for _ in range(12):
        try:
            kms.create_key()
            codes.append(None)
        except kms.exceptions.ClientError as e:
            codes.append(e.response["Error"]["Code"])
    assert "ThrottlingException" in codes
