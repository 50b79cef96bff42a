"""Settings: the contract's TOML keys, environment overrides, secret files, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from listener.cli import main
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
    """Every *_file fills its secret, trimmed of the final newline, and wins over the key."""
    (tmp_path / "token").write_text("tok-from-file\n", encoding="utf-8")
    (tmp_path / "secret").write_text("secret-from-file\n", encoding="utf-8")
    (tmp_path / "verify").write_text("verify-from-file\n", encoding="utf-8")
    (tmp_path / "uri").write_text("mongodb://u:p@db:27017/\n", encoding="utf-8")
    text = f"""
[graph]
app_secret_file = "{tmp_path / "secret"}"
[server]
webhook_verify_token = "verify-in-the-file"
webhook_verify_token_file = "{tmp_path / "verify"}"
[store]
mongodb_uri_file = "{tmp_path / "uri"}"
[[accounts]]
name = "brand"
ig_user_id = "1"
access_token_file = "{tmp_path / "token"}"
"""
    settings = load_settings(write(tmp_path, text))
    assert settings.accounts[0].access_token.get_secret_value() == "tok-from-file"
    assert settings.graph.app_secret.get_secret_value() == "secret-from-file"
    assert settings.server.webhook_verify_token.get_secret_value() == "verify-from-file"
    assert settings.store.mongodb_uri.get_secret_value() == "mongodb://u:p@db:27017/"


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


@pytest.mark.parametrize(
    ("polling", "keys"),
    [
        ("hashtag_interval_s = 2", ("hashtag_interval_s = 2", "min_interval_s = 60 (the default)")),
        (
            "tags_interval_s = 7200",
            ("tags_interval_s = 7200", "max_interval_s = 3600 (the default)"),
        ),
        (
            "max_interval_s = 400",
            ("tags_interval_s = 600 (the default)", "max_interval_s = 400"),
        ),
        (
            "min_interval_s = 900\nmax_interval_s = 600\nhashtag_interval_s = 700",
            ("min_interval_s = 900", "max_interval_s = 600"),
        ),
    ],
)
def test_polling_target_outside_its_bounds_is_refused(
    tmp_path: Path, polling: str, keys: tuple[str, str]
) -> None:
    """A target interval outside [min_interval_s, max_interval_s], or min > max, names both keys."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, MINIMAL + f"\n[polling]\n{polling}\n"))
    message = str(caught.value)
    assert "polling:" in message
    for key in keys:
        assert key in message
    assert "\n" not in message


def test_polling_target_within_its_bounds_loads(tmp_path: Path) -> None:
    """Targets inside the bounds (the edges included) load as written."""
    text = MINIMAL + "\n[polling]\nhashtag_interval_s = 2\ntags_interval_s = 30\n"
    text += "min_interval_s = 2\nmax_interval_s = 30\n"
    settings = load_settings(write(tmp_path, text))
    assert (settings.polling.hashtag_interval_s, settings.polling.tags_interval_s) == (2, 30)


COMMENTS = """
[graph]
app_secret = "app-secret"
[[accounts]]
name = "brand"
ig_user_id = "17841400000000001"
comments = true
[[campaigns]]
id = "giveaway"
account = "brand"
kind = "comments"
starts_at = 2026-12-01T00:00:00Z
ends_at = 2026-12-08T00:00:00Z
"""

# Comment campaign keys that cannot work.
BAD_COMMENT_KEYS = [
    (COMMENTS, 'campaigns.0: kind = "comments" needs posts = [...]'),
    (
        COMMENTS + "posts = ['https://example.com/p/x/']\n",
        "campaigns.0.posts.0: 'https://example.com/p/x/' is neither a media id",
    ),
    (
        COMMENTS.replace('kind = "comments"', "") + "posts = ['1']\n",
        'posts is only read by kind = "comments" campaigns',
    ),
    (
        COMMENTS.replace("comments = true", "") + "posts = ['1']\n",
        "campaigns.0 ('giveaway') is a comment giveaway but account 'brand' has comments = false",
    ),
    (COMMENTS.replace('kind = "comments"', 'kind = "likes"'), "campaigns.0.kind"),
    ("[polling]\ncomment_posts = 101\n", "polling.comment_posts"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[ratelimit]\napp_users = 5\napp_calls_per_hour = 900\n",
            "app_users and app_calls_per_hour are both set",
        ),
        (
            "[ratelimit]\naccount_impressions_24h = 5\naccount_calls_per_hour = 900\n",
            "account_impressions_24h and account_calls_per_hour are both set",
        ),
        (
            "[ratelimit]\nbackoff_initial_s = 90\n",
            "backoff_initial_s = 90 is above backoff_max_s = 60 (the default)",
        ),
        (
            "[[accounts]]\nname = 'a'\nig_user_id = '17841400000000001'\n"
            "[[accounts]]\nname = 'b'\nig_user_id = '17841400000000001'\n",
            "accounts.1.ig_user_id is accounts.0.ig_user_id too",
        ),
        ("[graph]\napp_id = '123'\n", "graph.app_id is set but graph.app_secret is empty"),
        (
            "[graph]\napp_secret = 's'\n[server]\nwebhook_unsigned = true\n",
            "server.webhook_unsigned = true but graph.app_secret is set",
        ),
        ("[store]\ninbox_done_retention_s = 3600\n", "store.inbox_done_retention_s"),
        *BAD_COMMENT_KEYS,
    ],
)
def test_contradicting_keys_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    """Keys that contradict each other give one line naming them, never a silent winner."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_whole_file_problems_carry_no_empty_location(tmp_path: Path) -> None:
    """A problem between sections reads 'config …: <keys>: …', without a made-up location."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "[graph]\napp_id = '123'\n"))
    assert str(caught.value).startswith(f"config {str(tmp_path / 'config.toml')!r}: graph.app_id")


def test_one_budget_from_the_file_and_the_other_from_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """app_users in the file and app_calls_per_hour in the environment contradict too."""
    monkeypatch.setenv("LISTENER_RATELIMIT__APP_CALLS_PER_HOUR", "900")
    with pytest.raises(ConfigError, match="app_users and app_calls_per_hour are both set"):
        load_settings(write(tmp_path, "[ratelimit]\napp_users = 5\n"))


@pytest.mark.parametrize("key", ["server.webhook_verify_token_file", "store.mongodb_uri_file"])
def test_unreadable_secret_file_names_its_key(tmp_path: Path, key: str) -> None:
    """A secret file that cannot be read is named with its key, on one line."""
    section, name = key.split(".")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, f"[{section}]\n{name} = '/nonexistent/secret'\n"))
    assert f"{name} '/nonexistent/secret' cannot be read" in str(caught.value)


def test_inbox_retention_defaults_keep_dead_letters_longer(tmp_path: Path) -> None:
    """Settled events are kept a week, dead letters ninety days (both above Meta's 36 h)."""
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.store.inbox_done_retention_s == 7 * 86400
    assert settings.store.inbox_dead_retention_s == 90 * 86400


SIGNED = MINIMAL + "\n[graph]\napp_secret = 'app-secret'\n"


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("", "no accounts configured: pass --config FILE with at least one [[accounts]]"),
        (
            MINIMAL,
            "graph.app_secret is empty but accounts.0.mentions = true receives webhooks",
        ),
        (MINIMAL + "\n[server]\nwebhook_unsigned = true\n", None),
        (MINIMAL.replace('hashtags = ["#SummerDrop"', 'mentions = false\nhashtags = ["x"'), None),
        (SIGNED, None),
    ],
)
def test_worker_refusal(tmp_path: Path, text: str, refusal: str | None) -> None:
    """The worker needs an account, and a secret (or the demo flag) to receive webhooks."""
    found = load_settings(write(tmp_path, text)).worker_refusal()
    if refusal is None:
        assert found is None
    else:
        assert found is not None
        assert refusal in found
        assert "\n" not in found


def test_comment_keys_have_their_defaults(tmp_path: Path) -> None:
    """A campaign is a hashtag one, an account reads no comments and 10 recent posts are polled."""
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.accounts[0].comments is False
    assert settings.polling.comment_posts == 10
    settings = load_settings(write(tmp_path, COMMENTS.replace('kind = "comments"', "")))
    assert settings.campaigns[0].kind == "hashtags"


@pytest.mark.parametrize(
    ("post", "kept"),
    [
        ("17895695668004550", "17895695668004550"),
        ("https://www.instagram.com/p/DAbCdEfGhIj/", "https://www.instagram.com/p/DAbCdEfGhIj/"),
        ("https://instagram.com/p/DAbCdEfGhIj", "https://www.instagram.com/p/DAbCdEfGhIj/"),
        (
            "https://www.instagram.com/reels/C-x_9/?igsh=abc",
            "https://www.instagram.com/reel/C-x_9/",
        ),
        (" https://www.instagram.com/tv/Tv1/ ", "https://www.instagram.com/tv/Tv1/"),
    ],
)
def test_comment_campaign_posts_are_ids_or_permalinks(tmp_path: Path, post: str, kept: str) -> None:
    """A post is a media id kept as written, or a permalink kept in one spelling."""
    text = COMMENTS + f"posts = [{post!r}]\n"
    settings = load_settings(write(tmp_path, text))
    assert settings.campaigns[0].posts == [kept]


def test_comments_alone_receive_webhooks(tmp_path: Path) -> None:
    """An account with comments = true and mentions = false still needs a signed receiver."""
    text = COMMENTS.replace('app_secret = "app-secret"', "") + "posts = ['1']\n"
    text = text.replace("comments = true", "comments = true\nmentions = false")
    settings = load_settings(write(tmp_path, text))
    assert settings.receives_webhooks
    refusal = settings.worker_refusal()
    assert refusal is not None
    assert "accounts.0.comments = true receives webhooks" in refusal


def test_comment_exit_code_is_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`listener check` on a comment campaign without posts exits 2 with one line."""
    code = main(["check", "--config", str(write(tmp_path, COMMENTS))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "needs posts" in err
