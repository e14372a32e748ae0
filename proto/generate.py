"""Generate the Python stubs in client/embedtune_client/v1 from proto/embedtune/v1.

Run by `make proto`; tests/test_proto_stubs.py runs it into a temporary folder and
fails when the committed stubs differ, so the stubs never drift from the contract.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = PROTO_ROOT.parent / "client" / "embedtune_client" / "v1"
# protoc writes absolute imports of the proto package; the stubs live inside ours.
_IMPORT_FROM = "from embedtune.v1 import"
_IMPORT_TO = "from embedtune_client.v1 import"


def generate(out_dir: Path) -> list[Path]:
    """Write the stubs to `out_dir` and return the files written."""
    import grpc_tools
    from grpc_tools import protoc

    # The well-known types (google/protobuf/descriptor.proto) ship inside grpc_tools.
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.glob("embedtune/v1/*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
        ]
        if protoc.main(args + protos) != 0:
            raise RuntimeError(f"protoc failed on {protos}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for src in sorted(Path(tmp, "embedtune", "v1").iterdir()):
            dst = out_dir / src.name
            dst.write_text(src.read_text().replace(_IMPORT_FROM, _IMPORT_TO))
            written.append(dst)
    init = out_dir / "__init__.py"
    init.write_text('"""Generated from proto/embedtune/v1 by proto/generate.py: do not edit."""\n')
    return [init, *written]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
