"""Settings: the contract's TOML keys, environment overrides, secret files, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from listener.errors import ConfigError
from listener.settings import load_settings

MINIMAL = """
[[accounts]]
name = "brand"
ig_user_id = "17841400000000001"
access_token = "tok-abc"
hashtags = ["#SummerDrop", "brandname", "summerdrop"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads() -> None:
    """config/example.toml, the documented production file, is valid as shipped."""
    settings = load_settings(Path("config/example.toml"))
    assert settings.accounts
    assert settings.campaigns


def test_demo_config_uses_simulator_and_embedded_store() -> None:
    """config/demo.toml (behind `make run`) needs no account and no network."""
    settings = load_settings(Path("config/demo.toml"))
    assert settings.simulator.enabled
    assert settings.store.embedded


def test_hashtags_are_normalised_and_deduplicated(tmp_path: Path) -> None:
    """'#SummerDrop' and 'summerdrop' are one hashtag, stored without '#' in lower case."""
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.accounts[0].hashtags == ["summerdrop", "brandname"]


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LISTENER_STORE__DATABASE wins over the file and the default."""
    monkeypatch.setenv("LISTENER_STORE__DATABASE", "fromenv")
    monkeypatch.setenv("LISTENER_GRAPH__APP_SECRET", "s3cret")
    settings = load_settings(write(tmp_path, MINIMAL + '\n[store]\ndatabase = "fromfile"\n'))
    assert settings.store.database == "fromenv"
    assert settings.graph.app_secret.get_secret_value() == "s3cret"


def test_secrets_from_files(tmp_path: Path) -> None:
    """access_token_file and app_secret_file fill the secrets, trimmed of the final newline."""
    (tmp_path / "token").write_text("tok-from-file\n", encoding="utf-8")
    (tmp_path / "secret").write_text("secret-from-file\n", encoding="utf-8")
    text = f"""
[graph]
app_secret_file = "{tmp_path / "secret"}"
[[accounts]]
name = "brand"
ig_user_id = "1"
access_token_file = "{tmp_path / "token"}"
"""
    settings = load_settings(write(tmp_path, text))
    assert settings.accounts[0].access_token.get_secret_value() == "tok-from-file"
    assert settings.graph.app_secret.get_secret_value() == "secret-from-file"


def test_secrets_do_not_appear_in_repr(tmp_path: Path) -> None:
    """Printing the settings never shows a token."""
    settings = load_settings(write(tmp_path, MINIMAL))
    assert "tok-abc" not in repr(settings)
    assert "tok-abc" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[store\nmongodb_uri = 1", "is not valid TOML"),
        ("[store]\nmongo_uri = 'x'\n", "store.mongo_uri: unknown key"),
        ("[polling]\nhashtag_interval_s = -1\n", "polling.hashtag_interval_s"),
        ("[graph]\nbase_url = 'ftp://x'\n", "graph.base_url"),
        ("[[accounts]]\nname='a'\nig_user_id='1'\nhashtags=['no spaces']\n", "accounts.0.hashtags"),
        (
            "[[accounts]]\nname='a'\nig_user_id='1'\naccess_token_file='/nonexistent/t'\n",
            "cannot be read",
        ),
        (
            "[[accounts]]\nname='a'\nig_user_id='1'\n[[campaigns]]\nid='c'\naccount='zz'\n"
            "starts_at=2026-01-01T00:00:00Z\nends_at=2026-02-01T00:00:00Z\n",
            "unknown account 'zz'",
        ),
        (
            "[[accounts]]\nname='a'\nig_user_id='1'\n[[campaigns]]\nid='c'\naccount='a'\n"
            "starts_at=2026-03-01T00:00:00Z\nends_at=2026-02-01T00:00:00Z\n",
            "ends_at must be after starts_at",
        ),
    ],
)
def test_bad_config_gives_one_line_naming_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Each broken file gives a ConfigError of one line that names the key and the problem."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist is named in the error."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_thirty_one_hashtags_are_refused(tmp_path: Path) -> None:
    """A 31st distinct hashtag on one account is refused, naming Meta's rule and the tag."""
    tags = ", ".join(f'"tag{i}"' for i in range(31))
    text = f"[[accounts]]\nname='a'\nig_user_id='1'\nhashtags=[{tags}]\n"
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert "at most 30 distinct hashtags per account in a rolling 7 days" in str(caught.value)
    assert "'tag30'" in str(caught.value)


def test_thirty_hashtags_are_accepted(tmp_path: Path) -> None:
    """Exactly 30 hashtags is within the rule."""
    tags = ", ".join(f'"tag{i}"' for i in range(30))
    settings = load_settings(
        write(tmp_path, f"[[accounts]]\nname='a'\nig_user_id='1'\nhashtags=[{tags}]\n")
    )
    assert len(settings.accounts[0].hashtags) == 30
