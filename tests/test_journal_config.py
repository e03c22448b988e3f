"""The journal's per-tenant service tables: the tenant registry, configuration versions, issued
tokens; how ``command_seqs`` finds configure entries, alone or in a batch entry; and that
export / import / delete carry those tables with the tenant."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from acd.server.journal import KEEP_CONFIGS, IssuedToken, Journal, StoredConfig

TOKEN = IssuedToken("t1", "sha256:" + "a" * 64, "admin", "admin", None, 5)


def test_register_is_once_with_the_first_version_and_token(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            assert await journal.register_tenant("t1", 5, '{"name":"one"}', TOKEN)
            assert not await journal.register_tenant("t1", 9, '{"name":"again"}')
            assert journal.registry() == {"t1": 5}
            assert journal.configs("t1") == [StoredConfig(1, 0, 5, '{"name":"one"}')]
            assert journal.issued_tokens() == [TOKEN]
        async with Journal(tmp_path / "j.sqlite3") as journal:  # after a reopen
            assert journal.registry() == {"t1": 5}
            assert journal.issued_tokens() == [TOKEN]

    asyncio.run(main())


def test_versions_pending_settled_dropped_and_pruned(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.register_tenant("t1", 1, "v1")
            await journal.put_config("t1", StoredConfig(2, None, 2, "v2"))
            with pytest.raises(ValueError, match="has config version 2"):
                await journal.put_config("t1", StoredConfig(2, None, 2, "again"))
            assert journal.configs("t1")[-1] == StoredConfig(2, None, 2, "v2")
            await journal.settle_config("t1", 2, 7)
            assert journal.configs("t1")[-1].seq == 7
            await journal.put_config("t1", StoredConfig(3, None, 3, "v3"))
            await journal.settle_config("t1", 3, None)  # never went live
            assert [c.version for c in journal.configs("t1")] == [1, 2]
            for version in range(3, KEEP_CONFIGS + 5):
                await journal.put_config("t1", StoredConfig(version, None, version, "v"))
                await journal.settle_config("t1", version, version)
            versions = [c.version for c in journal.configs("t1")]
            assert versions == list(range(5, KEEP_CONFIGS + 5))

    asyncio.run(main())


def test_command_seqs_finds_a_command_alone_or_inside_a_batch(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.append_many(
                "t1",
                [
                    ("configure", "{}", 1),
                    ("enqueue", "configure", "q", 2, 0),  # the word as a value is no command
                    ("enqueue", '["configure",', "q", 3, 0),
                    ("batch", [["enqueue", "c", "q", 4, 0], ["configure", "{}", 4]]),
                    ("timeout", 5),
                ],
            )
            assert journal.command_seqs("t1", "configure") == [1, 4]
            assert journal.command_seqs("t1", "configure", after=1) == [4]
            assert journal.command_seqs("t1", "timeout") == [5]
            assert journal.command_seqs("t2", "configure") == []

    asyncio.run(main())


def test_issued_tokens_are_revoked_by_name_per_tenant(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            other = TOKEN._replace(tenant="t2", hash="sha256:" + "b" * 64)
            second = TOKEN._replace(hash="sha256:" + "c" * 64, created_at_ms=6)
            for token in (TOKEN, other, second):
                await journal.issue_token(token)
            assert await journal.revoke_tokens("t1", "admin") == 2
            assert await journal.revoke_tokens("t1", "admin") == 0
            assert journal.issued_tokens() == [other]

    asyncio.run(main())


def test_export_import_and_delete_carry_the_service_tables(tmp_path: Path) -> None:
    async def main() -> None:
        async with Journal(tmp_path / "a.sqlite3") as journal:
            await journal.register_tenant("t1", 5, "v1", TOKEN)
            await journal.append("t1", ("timeout", 1))
            await journal.put_config("t1", StoredConfig(2, None, 6, "v2"))
            await journal.settle_config("t1", 2, 1)
            await journal.register_tenant("t2", 7, "w1")
            journal.export_tenant("t1", tmp_path / "t1.sqlite3")
            await journal.delete_tenant("t1")
            assert journal.registry() == {"t2": 7}
            assert journal.configs("t1") == [] and journal.issued_tokens() == []
            assert journal.configs("t2") == [StoredConfig(1, 0, 7, "w1")]
            # The id is free again: registering starts it over.
            assert await journal.register_tenant("t1", 8, "fresh")
            await journal.delete_tenant("t1")
        async with Journal(tmp_path / "b.sqlite3") as journal:
            assert await journal.import_tenant(tmp_path / "t1.sqlite3") == "t1"
            assert journal.registry() == {"t1": 5}
            assert [c.text for c in journal.configs("t1")] == ["v1", "v2"]
            assert journal.issued_tokens() == [TOKEN]
            assert journal.command_seqs("t1", "timeout") == [1]

    asyncio.run(main())


def test_a_pending_version_settles_by_the_journal_at_the_next_start(tmp_path: Path) -> None:
    """A crash between storing a version and settling it: live if its configure entry was
    committed (after the previous version's), dropped otherwise."""
    from acd.server.tenant_admin import settle_pending

    async def main() -> None:
        async with Journal(tmp_path / "j.sqlite3") as journal:
            await journal.register_tenant("t1", 1, "v1")
            await journal.append("t1", ("timeout", 1))
            await journal.put_config("t1", StoredConfig(2, None, 2, "v2"))
            await journal.append("t1", ("batch", [["timeout", 2], ["configure", "{}", 2]]))
            live = await settle_pending(journal, "t1")
            assert live == StoredConfig(2, 2, 2, "v2")
            await journal.put_config("t1", StoredConfig(3, None, 3, "v3"))
            await journal.append("t1", ("timeout", 3))  # the configure never made it
            assert await settle_pending(journal, "t1") == live
            assert [c.version for c in journal.configs("t1")] == [1, 2]
            assert await settle_pending(journal, "t2") is None

    asyncio.run(main())
