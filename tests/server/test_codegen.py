"""The committed stubs are what `python -m vh.client.codegen` generates from the proto today."""

from __future__ import annotations

import pytest

from vh.client import codegen


def test_committed_stubs_are_fresh():
    pytest.importorskip("grpc_tools")
    assert codegen.generate(check=True) == [], "run `python -m vh.client.codegen` and commit the stubs"


def test_stubs_import_under_the_package_path():
    from vh.client.v1 import harmonize_pb2, harmonize_pb2_grpc

    assert harmonize_pb2.DESCRIPTOR.package == "vh.server.v1"
    assert harmonize_pb2.DESCRIPTOR.name == "vh/client/v1/harmonize.proto"
    assert hasattr(harmonize_pb2_grpc, "HarmonizerStub")
