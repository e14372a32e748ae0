"""The client package loads nothing beyond grpcio, protobuf, numpy and the standard library."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import importlib, json, pkgutil, sys, sysconfig
site = (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])

def third_party():
    return {
        name.split(".")[0]
        for name, module in list(sys.modules.items())
        if (getattr(module, "__file__", None) or "").startswith(site)
    }

import grpc, grpc.aio, google.protobuf, numpy  # the three dependencies and what they load
baseline = third_party()
import embedtune_client
for info in pkgutil.walk_packages(embedtune_client.__path__, "embedtune_client."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
print(json.dumps(sorted(third_party() - baseline)))
"""


def test_every_client_module_imports_only_its_three_dependencies():
    command = [sys.executable, "-c", _PROBE]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    extra = [name for name in json.loads(out.stdout) if not name.startswith("__editable__")]
    assert extra == [], f"the client imports {extra} beyond grpcio, protobuf and numpy"
