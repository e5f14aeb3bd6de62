"""Settings: IDP_* variables, validation at start-up, embedded defaults."""

from __future__ import annotations

import pytest

from idp.config import Settings, SettingsError


def test_embedded_defaults(tmp_path):
    s = Settings.from_env({"IDP_DATA_DIR": str(tmp_path)})
    assert s.issuer == "http://127.0.0.1:5000"
    assert s.database_url == f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    assert s.redis_url == ""
    # argon2id defaults: t=2, m=19 MiB, p=1 (OWASP's minimum for argon2id).
    assert (s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism) == (2, 19456, 1)
    assert (tmp_path / "secret_key").exists()
    assert any("IDP_REDIS_URL" in d for d in s.embedded_defaults)
    # Generated once, then reused: restarting keeps sessions and subjects.
    again = Settings.from_env({"IDP_DATA_DIR": str(tmp_path)})
    assert again.secret_key == s.secret_key
    assert again.pairwise_salt == s.pairwise_salt
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_values_from_environment(tmp_path):
    s = Settings.from_env(
        {
            "IDP_DATA_DIR": str(tmp_path),
            "IDP_ISSUER": "https://id.danang.gov.vn",
            "IDP_DATABASE_URL": "postgresql+psycopg://u@db/idp",
            "IDP_REDIS_URL": "redis://r:6379/0",
            "IDP_SECRET_KEY": "k",
            "IDP_PAIRWISE_SALT": "p",
            "IDP_KEY_ENCRYPTION_KEY": "kek",
            "IDP_ARGON2_TIME_COST": "3",
            "IDP_ARGON2_MEMORY_KIB": "65536",
            "IDP_ARGON2_PARALLELISM": "2",
            "IDP_LANGUAGES": "en,vi",
            "IDP_SMTP_HOST": "mail.danang.gov.vn",
            "IDP_SMTP_PORT": "2525",
            "IDP_SMTP_STARTTLS": "no",
            "IDP_MAIL_FROM": "khong-tra-loi@danang.gov.vn",
            "IDP_SMS_URL": "https://sms.danang.gov.vn/send",
        }
    )
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls) == ("mail.danang.gov.vn", 2525, False)
    assert s.mail_from == "khong-tra-loi@danang.gov.vn"
    assert s.issuer == "https://id.danang.gov.vn"
    assert s.secure_cookies is True
    assert (s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism) == (3, 65536, 2)
    assert s.default_language == "en"
    assert s.key_encryption_key == "kek"
    assert s.embedded_defaults == ()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("IDP_ISSUER", "ftp://x"),
        ("IDP_ISSUER", "https://id.example/"),
        ("IDP_ISSUER", "https://id.example?x=1"),
        ("IDP_ARGON2_TIME_COST", "zero"),
        ("IDP_ARGON2_TIME_COST", "0"),
        ("IDP_LANGUAGES", "fr"),
        ("IDP_CODE_TTL", "-5"),
        ("IDP_INTERACTION_TTL", "0"),
        ("IDP_OPERATOR_HOTLINE", "call us"),
        ("IDP_OPERATOR_HELP_URL", "javascript:alert(1)"),
        ("IDP_OPERATOR_HELP_URL", "http://help.example"),
        ("IDP_OPERATOR_LOGO", "/no/such/logo.svg"),
        ("IDP_OPERATOR_NAME", "x" * 201),
    ],
)
def test_bad_values_stop_start_up(tmp_path, key, value):
    with pytest.raises(SettingsError, match=key.removeprefix("IDP_").split("_")[0]):
        Settings.from_env({"IDP_DATA_DIR": str(tmp_path), key: value})


@pytest.mark.parametrize(
    "content",
    [
        None,  # no such file
        "not json",
        "[]",
        '{"name": "x"}',
        '[{"name": ""}]',
        '[{"name": {"vi": "Bộ phận một cửa"}, "address": 5}]',
        '[{"name": {"vi": 1}}]',
    ],
)
def test_a_bad_desks_file_stops_start_up(tmp_path, content):
    from idp import create_app

    path = tmp_path / "desks.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    env = {"IDP_DATA_DIR": str(tmp_path), "IDP_DESKS_FILE": str(path)}
    with pytest.raises(SettingsError, match="IDP_DESKS_FILE"):
        create_app(Settings.from_env(env), skip_keys=True)


def test_a_desks_file_replaces_the_shipped_list(tmp_path):
    from idp.citizens.identity import desks

    path = tmp_path / "desks.json"
    path.write_text(
        '[{"name": {"vi": "Bộ phận một cửa phường Hải Châu", "en": "Hai Chau ward desk"},'
        ' "address": "270 Trưng Nữ Vương", "hours": "7:30–17:00"}]',
        encoding="utf-8",
    )
    (desk,) = desks(path)
    assert desk.name_in("en") == "Hai Chau ward desk"
    assert desk.hours_in("en") == "7:30–17:00"  # one text serves every language
