"""Login, API keys (secret encrypted at rest, shown only to owner or root admin) and sessions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, select, update

from provisioner.db.schema import api_session, user
from provisioner.exceptions import ParamError, PermissionDeniedError
from provisioner.services.identity import IdentityService, UserKeys, accounts, users
from provisioner.services.principal import Caller
from tests.unit.services.helpers import PASSWORD, admin_password, make_account, make_domain


def test_login_by_path_and_id(identity: IdentityService, admin: Caller) -> None:
    sub = make_domain(identity, admin, "sub")
    created, alice = make_account(identity, admin, "alice", domain_uuid=sub)
    assert identity.login("alice", PASSWORD, "sub") == alice  # paths are normalised
    assert identity.login("alice", PASSWORD, "/sub/", domain_id=sub) == alice
    assert alice.user_id == created.id and alice.domain_path == "/sub/"
    with pytest.raises(PermissionDeniedError) as info:
        identity.login("alice", PASSWORD, "/")  # wrong domain
    assert info.value.errorcode == 531
    assert "Failed to authenticate user alice in domain" in info.value.errortext
    assert PASSWORD not in info.value.errortext


def test_login_failures(identity: IdentityService, admin: Caller) -> None:
    created, _ = make_account(identity, admin, "bob")
    with pytest.raises(PermissionDeniedError):
        identity.login("bob", "wrong")
    with pytest.raises(PermissionDeniedError):
        identity.login("nobody", PASSWORD)
    second = identity.transaction(
        lambda c: users.create_user(c, admin, account_uuid=created.account_id, username="bob2", password=PASSWORD)
    )
    identity.transaction(lambda c: users.set_user_state(c, admin, second.id, "locked"))
    with pytest.raises(PermissionDeniedError):
        identity.login("bob2", PASSWORD)
    identity.transaction(lambda c: accounts.set_account_state(c, admin, created.account_id, "disabled"))
    with pytest.raises(PermissionDeniedError):
        identity.login("bob", PASSWORD)


def _dump(engine: Engine, db_url_file: Path | None) -> bytes:
    """Everything the database holds, as bytes: the SQLite file with its WAL, or every row of every table."""
    if db_url_file is not None:
        return b"".join(p.read_bytes() for p in db_url_file.parent.glob(db_url_file.name + "*"))
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return "\n".join(repr(conn.execute(select(t)).all()) for t in meta.sorted_tables).encode()


def test_secret_key_is_encrypted_at_rest(identity: IdentityService, admin: Caller, db_url: str) -> None:
    _, alice = make_account(identity, admin, "alice")
    keys = identity.transaction(lambda c: users.register_user_keys(c, identity.box, alice, alice.user_id))
    assert keys.api_key and keys.secret_key and len(keys.secret_key) == 86
    found = identity.find_api_key(keys.api_key)
    assert found == (keys.secret_key, alice)

    sqlite_file = Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite") else None
    dump = _dump(identity.engine, sqlite_file)
    assert keys.api_key.encode() in dump  # the control: the dump does hold the user row
    assert keys.secret_key.encode() not in dump
    assert PASSWORD.encode() not in dump
    assert admin_password(identity.directory).encode() not in dump


def test_get_user_keys_shows_secret_only_to_owner_or_root(identity: IdentityService, admin: Caller) -> None:
    sub = make_domain(identity, admin, "sub")
    _, dadmin = make_account(identity, admin, "dadmin", account_type=2, domain_uuid=sub)
    _, alice = make_account(identity, admin, "alice", domain_uuid=sub)
    _, eve = make_account(identity, admin, "eve")
    keys = identity.transaction(lambda c: users.register_user_keys(c, identity.box, alice, alice.user_id))

    def get(caller: Caller) -> UserKeys:
        return identity.transaction(lambda c: users.get_user_keys(c, identity.box, caller, alice.user_id))

    assert get(alice).secret_key == keys.secret_key
    assert get(admin).secret_key == keys.secret_key
    by_domain_admin = get(dadmin)
    assert by_domain_admin.api_key == keys.api_key and by_domain_admin.secret_key is None
    with pytest.raises(PermissionDeniedError):
        get(eve)


def test_disabled_accounts_and_users_lose_api_access(identity: IdentityService, admin: Caller) -> None:
    created, alice = make_account(identity, admin, "alice")
    keys = identity.transaction(lambda c: users.register_user_keys(c, identity.box, admin, alice.user_id))
    assert keys.api_key is not None
    identity.transaction(lambda c: accounts.set_account_state(c, admin, created.account_id, "disabled"))
    assert identity.find_api_key(keys.api_key) is None
    identity.transaction(lambda c: accounts.set_account_state(c, admin, created.account_id, "enabled"))
    assert identity.find_api_key(keys.api_key) is not None
    identity.transaction(lambda c: accounts.delete_account(c, admin, created.account_id))
    assert identity.find_api_key(keys.api_key) is None


def test_sessions(identity: IdentityService, admin: Caller) -> None:
    key = identity.create_session(admin)
    assert identity.resolve_session(key) == admin
    with identity.engine.connect() as conn:
        stored = conn.execute(select(api_session.c.key_hash)).scalars().all()
    assert stored and key not in stored  # only the hash is kept
    identity.end_session(key)
    assert identity.resolve_session(key) is None
    identity.end_session(key)  # unknown keys are ignored


def test_session_expiry(identity: IdentityService, admin: Caller) -> None:
    key = identity.create_session(admin)
    with identity.engine.begin() as conn:
        conn.execute(update(api_session).values(expires=api_session.c.created))
    assert identity.resolve_session(key) is None
    with identity.engine.connect() as conn:
        assert conn.execute(select(api_session)).first() is None  # an expired session is deleted on sight


def test_session_ends_when_user_is_disabled(identity: IdentityService, admin: Caller) -> None:
    created, alice = make_account(identity, admin, "alice")
    key = identity.create_session(alice)
    identity.transaction(lambda c: users.set_user_state(c, admin, created.id, "disabled"))
    assert identity.resolve_session(key) is None


def test_password_change_and_user_update(identity: IdentityService, admin: Caller) -> None:
    created, alice = make_account(identity, admin, "alice")
    with pytest.raises(ParamError, match="current password must be provided"):
        identity.transaction(lambda c: users.update_user(c, alice, alice.user_id, password="new-pass"))
    with pytest.raises(ParamError, match="Current password is incorrect"):
        identity.transaction(
            lambda c: users.update_user(c, alice, alice.user_id, password="new-pass", current_password="wrong")
        )
    assert identity.login("alice", PASSWORD).user_id == created.id  # the refused changes changed nothing
    identity.transaction(
        lambda c: users.update_user(
            c, alice, alice.user_id, password="new-pass", current_password=PASSWORD, firstname="Al"
        )
    )
    assert identity.login("alice", "new-pass").user_id == created.id
    with identity.engine.connect() as conn:
        stored = conn.execute(select(user.c.password).where(user.c.uuid == created.id)).scalar_one()
    assert stored.startswith("scrypt$") and "new-pass" not in stored
    total, listed = identity.transaction(lambda c: users.list_users(c, alice))
    assert total == 1 and listed[0].firstname == "Al"


def test_an_admin_resets_a_password_without_the_current_one_but_never_to_blank(
    identity: IdentityService, admin: Caller
) -> None:
    created, _alice = make_account(identity, admin, "alice")
    identity.transaction(lambda c: users.update_user(c, admin, created.id, password="reset-by-admin"))
    assert identity.login("alice", "reset-by-admin").user_id == created.id
    with pytest.raises(ParamError, match="cannot be empty or blank"):
        identity.transaction(lambda c: users.update_user(c, admin, created.id, password="   "))


def test_list_users_filters_by_account_type_before_counting(identity: IdentityService, admin: Caller) -> None:
    make_account(identity, admin, "alice")
    make_account(identity, admin, "bob")
    total, listed = identity.transaction(lambda c: users.list_users(c, admin, account_type=0, pagesize=1, page=1))
    assert total == 2 and len(listed) == 1 and listed[0].account_type == 0
    total, listed = identity.transaction(lambda c: users.list_users(c, admin, account_type=1))
    assert total == 1 and listed[0].username == "admin"


def test_user_lifecycle_and_who_may_touch_whom(identity: IdentityService, admin: Caller) -> None:
    created, alice = make_account(identity, admin, "alice")
    second = identity.transaction(
        lambda c: users.create_user(c, admin, account_uuid=created.account_id, username="alice2", password=PASSWORD)
    )
    with pytest.raises(PermissionDeniedError):  # a plain user manages only itself
        identity.transaction(lambda c: users.update_user(c, alice, second.id, firstname="X"))
    with pytest.raises(PermissionDeniedError):
        identity.transaction(
            lambda c: users.create_user(c, alice, account_uuid=created.account_id, username="x", password="y")
        )
    with pytest.raises(PermissionDeniedError):  # the first user goes with its account
        identity.transaction(lambda c: users.delete_user(c, admin, created.id))
    keys = identity.transaction(lambda c: users.register_user_keys(c, identity.box, admin, second.id))
    assert keys.api_key is not None and identity.find_api_key(keys.api_key) is not None
    identity.transaction(lambda c: users.delete_user(c, admin, second.id))
    assert identity.find_api_key(keys.api_key) is None
    with pytest.raises(PermissionDeniedError):
        identity.login("alice2", PASSWORD)
    # The name is free again once the user is deleted.
    identity.transaction(
        lambda c: users.create_user(c, admin, account_uuid=created.account_id, username="alice2", password=PASSWORD)
    )
    with pytest.raises(ParamError):
        identity.transaction(
            lambda c: users.create_user(c, admin, account_uuid=created.account_id, username="alice2", password="p")
        )
