"""The import layers (tools/layers.py): the repository keeps its contracts, and the checker sees
what it must (imports inside functions, relative imports) and nothing it must not."""

from __future__ import annotations

from tools.layers import (
    Import,
    all_imports,
    broken_contracts,
    import_circles,
    imports_in,
    source_files,
)


def test_the_repository_keeps_every_import_contract():
    files = source_files()
    assert "cgw_provisioner.app" in files
    assert "localcloud.pipeline" in files
    assert broken_contracts(all_imports(files), files) == []


def test_an_import_inside_a_function_counts():
    source = "def serve():\n    from localcloud.server import DropConnection\n"
    found = imports_in(source, "localcloud.vpc.responses", False, {"localcloud.server"})
    assert found == [Import("localcloud.vpc.responses", "localcloud.server", 2)]
    problems = broken_contracts(found, ["localcloud.vpc.responses", "localcloud.server"])
    assert problems == [
        "localcloud.vpc.responses (line 2) imports localcloud.server: "
        "a localcloud service never imports the server"
    ]


def test_imports_for_the_type_checker_only_do_not_count_but_their_else_does():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from localcloud.server import Cloud\n"
        "else:\n"
        "    import fc2\n"
    )
    found = imports_in(source, "cgw_provisioner.app", False)
    assert [i.imported for i in found] == ["typing", "fc2"]


def test_relative_imports_resolve_to_modules():
    known = {"cgw_provisioner.destinations", "cgw_provisioner.retry"}
    source = "from .destinations import Publisher\nfrom . import retry\n"
    found = imports_in(source, "cgw_provisioner.app", False, known)
    assert [i.imported for i in found] == ["cgw_provisioner.destinations", "cgw_provisioner.retry"]
    package = imports_in("from . import retry\n", "cgw_provisioner", True, known)
    assert [i.imported for i in package] == ["cgw_provisioner.retry"]


def test_only_the_adapters_import_cloud_sdks():
    imports = [
        Import("cgw_provisioner.vpc", "aliyunsdkcore.client", 1),
        Import("cgw_provisioner.destinations", "mns.account", 1),
        Import("cgw_provisioner.token_queue", "mns.queue", 1),
        Import("cgw_provisioner.app", "fc2", 7),
    ]
    assert broken_contracts(imports, []) == [
        "cgw_provisioner.app (line 7) imports fc2: only cgw_provisioner.vpc, "
        "cgw_provisioner.destinations, cgw_provisioner.token_queue import cloud SDKs"
    ]


def test_the_function_and_localcloud_never_import_each_other_and_tools_not_bench():
    imports = [
        Import("cgw_provisioner.app", "localcloud.core", 1),
        Import("index", "tools.layers", 2),
        Import("localcloud.fc.runtime", "cgw_provisioner.app", 3),
        Import("tools.soak", "bench.stack", 4),
        Import("bench.stack", "tools.localcloud_process", 5),
    ]
    problems = broken_contracts(imports, [])
    assert len(problems) == 4
    assert all("bench.stack (line 5)" not in p for p in problems)


def test_circles_are_found_and_a_chain_is_not_one():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_circles(edges) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []
    imports = [Import("a", "b", 1), Import("b", "a", 1)]
    assert broken_contracts(imports, ["a", "b"]) == ["import circle among: a, b"]
