"""The manifest refuses an external tenant that External ID could not have."""

from __future__ import annotations

import pytest

from entra_emulator.manifest import DEFAULT_MANIFEST, ManifestError, load_manifest


def _load_with(tmp_path, old: str, new: str):
    text = DEFAULT_MANIFEST.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "manifest.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_manifest(path)


def test_the_shipped_manifest_has_an_external_tenant():
    manifest = load_manifest()
    customers = manifest.tenant("customers")
    assert customers is not None and customers.is_external
    assert {u.username for u in manifest.users_of("customers")} == {"avery@example.com", "jordan@example.net"}


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('key = "customers-orders-web"\ndisplay_name = "Orders web (customers)"\nclient_id = "1e0f9a8b-7c6d-4e5f-8a3b-2c1d0e9f8a7b"\nhome_tenant = "customers"\nsign_in_audience = "AzureADMyOrg"',
         'key = "customers-orders-web"\ndisplay_name = "Orders web (customers)"\nclient_id = "1e0f9a8b-7c6d-4e5f-8a3b-2c1d0e9f8a7b"\nhome_tenant = "customers"\nsign_in_audience = "AzureADMultipleOrgs"',
         "single-tenant"),
        ('username = "avery@example.com"\nemail = "avery@example.com"', 'username = "avery@example.com"',
         "signs in with an email"),
        ('kind = "external"', 'kind = "b2c"', "kind must be one of"),
    ],
)
def test_what_external_id_cannot_have_is_refused(tmp_path, old, new, complaint):
    with pytest.raises(ManifestError, match=complaint):
        _load_with(tmp_path, old, new)
