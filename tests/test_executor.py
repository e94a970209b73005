"""The executor setting: what it accepts, and one clear line when Dask is not installed."""

from __future__ import annotations

import sys

import pytest

from drapto.cluster import client as cluster
from drapto.errors import DraptoError
from drapto.settings import load


@pytest.mark.parametrize("value", ["local", "dask://127.0.0.1:8786", "dask+tls://nas:8786"])
def test_executors_accepted(value: str) -> None:
    assert load(cli={"executor": value}).executor == value


@pytest.mark.parametrize("value", ["dask://nas", "tcp://nas:8786", "remote", "dask://:1"])
def test_executors_refused(value: str) -> None:
    with pytest.raises(DraptoError, match="is not local, dask://HOST:PORT"):
        load(cli={"executor": value})


def test_scheduler_addresses() -> None:
    assert cluster.scheduler_address("dask://nas:8786") == "tcp://nas:8786"
    assert cluster.scheduler_address("dask+tls://nas:8786") == "tls://nas:8786"


def test_without_dask_one_line_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    monkeypatch.setattr(cluster, "_clients", {})
    with pytest.raises(DraptoError, match=r"Dask is not installed here: pip install -e "
                                          r"'\.\[dask\]'"):
        cluster.client("dask://127.0.0.1:1")


def test_no_scheduler_is_one_line() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(DraptoError, match="no Dask scheduler answers at tcp://127.0.0.1:9"):
        cluster.client("dask://127.0.0.1:9")


def test_the_drapto_command_takes_an_executor() -> None:
    from drapto.run.cli import doit_argv, parser

    argv = doit_argv(parser().parse_args(["encode", "film.mkv", "--executor",
                                          "dask://nas:8786"]))
    assert argv[-2:] == ["input=film.mkv", "executor=dask://nas:8786"]
