"""Configuration: the environment is the contract; unsafe production settings refuse to start."""

import pytest

import config

SAFE_PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "Qm9vLXRoaXMtaXMtcmFuZG9tLWVub3VnaC1mb3ItYS10ZXN0LTc3",
    "ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.com",
    "ENTRA_TENANT_ID": "11111111-1111-4111-8111-111111111111",
    "ENTRA_CLIENT_ID": "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a",
    "API_CLIENT_ID": "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8",
    "API_AUDIENCE": "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8,api://6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8",
    "REDIS_URL": "rediss://cache.example:6380/0",
    "TOKEN_CACHE_KEYS": "q0E0xkzr3yJ0lYt9Yj9aG5O8m2zjH8xj4b7mX2s3h5Q=",
    # A user-assigned managed identity as federated credential for both tiers: no secret anywhere.
    "ENTRA_CLIENT_CREDENTIALS": '[{"SourceType": "SignedAssertionFromManagedIdentity", '
                                '"ManagedIdentityClientId": "e0000005-0000-4000-8000-000000000001"}]',
    "API_CLIENT_CREDENTIALS": '[{"SourceType": "SignedAssertionFromManagedIdentity", '
                              '"ManagedIdentityClientId": "e0000005-0000-4000-8000-000000000001"}]',
    "PUBLIC_BASE_URL": "https://orders.contoso.example",
}


def test_environment_variables_are_parsed_into_settings():
    settings = config.load_config({**SAFE_PRODUCTION, "API_SCOPES": "a/b c/d", "ENABLED_BLUEPRINTS": "api"})
    assert settings["API_AUDIENCE"] == ["6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8", "api://6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"]
    assert settings["API_SCOPES"] == ["a/b", "c/d"]
    assert settings["ENABLED_BLUEPRINTS"] == ["api"]
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_development_defaults_point_at_the_emulator_without_secrets(tmp_path):
    settings = config.load_config({"ENTRA_CA_BUNDLE": __file__})
    assert settings["ENTRA_AUTHORITY_HOST"] == config.DEV_EMULATOR_URL
    assert settings["ENTRA_CLIENT_ID"] == config.DEV_WEB_CLIENT_ID
    assert settings["ENTRA_CLIENT_SECRET"] is None and settings["API_CLIENT_SECRET"] is None
    assert settings["ENTRA_CLIENT_CERTIFICATE_PATH"].endswith("credentials/orders-web.pem")
    assert settings["ENTRA_ALLOWED_TENANTS"] == [config.DEV_HOME_TENANT_ID, config.DEV_FOREIGN_TENANT_ID]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is required"),
        ({"ENTRA_AUTHORITY_HOST": "http://login.example"}, "must be an https:// URL"),
        ({"ENTRA_TENANT_ID": "organizations"}, "needs ENTRA_ALLOWED_TENANTS"),
        ({"REDIS_URL": ""}, "REDIS_URL is required"),
        ({"TOKEN_CACHE_KEYS": ""}, "TOKEN_CACHE_KEYS is required"),
        ({"ENTRA_CA_BUNDLE": "/nonexistent/ca.pem"}, "does not exist"),
        ({"ENABLED_BLUEPRINTS": "web,admin"}, "ENABLED_BLUEPRINTS"),
    ],
)
def test_unsafe_production_settings_refuse_to_start(change, complaint):
    with pytest.raises(config.ConfigError, match=complaint):
        config.load_config({**SAFE_PRODUCTION, **change})


def test_every_problem_is_listed_in_one_message():
    with pytest.raises(config.ConfigError) as info:
        config.load_config({"APP_ENV": "production", "ENTRA_TENANT_ID": "organizations"})
    message = str(info.value)
    for expected in ("SECRET_KEY", "ENTRA_CLIENT_ID", "API_CLIENT_ID", "ENTRA_ALLOWED_TENANTS", "REDIS_URL", "TOKEN_CACHE_KEYS"):
        assert expected in message


def test_unknown_app_env_is_refused():
    with pytest.raises(config.ConfigError, match="APP_ENV"):
        config.load_config({"APP_ENV": "staging"})
