"""`embedtune index add | search | embed | info | health | feedback` against the fake server."""

from __future__ import annotations

import argparse
import json
import sys

import pytest
from client_fakes import fake_vector

from embedtune_client.cli import commands
from embedtune_client.v1 import embedtune_pb2 as pb


@pytest.fixture
def cli(fake, capsys, monkeypatch):
    """Run the client's subcommands as `embedtune` would; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("EMBEDTUNE_TARGET", fake.target)
    monkeypatch.delenv("EMBEDTUNE_DEBUG", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="embedtune")
        commands.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        code = args.handler(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_index_add_jsonl(cli, fake, tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [{"id": i, "text": f"document {i}", "lang": "en", "rank": i} for i in range(7)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    code, out, _ = cli("index", "add", str(path), "--batch-size", "3", "--admin-key", "adm")
    assert code == 0 and "upserted 7" in out
    stored = fake.state.documents
    assert sorted(stored) == [str(i) for i in range(7)]
    assert stored["4"].text == "document 4"
    assert dict(stored["4"].metadata) == {"lang": "en", "rank": "4"}
    assert fake.state.metadata["Upsert"][0]["authorization"] == "Bearer adm"


def test_index_add_csv_with_chosen_fields(cli, fake, tmp_path):
    path = tmp_path / "docs.csv"
    path.write_text('key,body,topic,ignored\nk1,"first, with comma",a,x\nk2,second,b,y\n')
    code, _, _ = cli(
        "index", "add", str(path), "--id-field", "key", "--text-field", "body", "--metadata-fields", "topic"
    )
    assert code == 0
    assert {k: (d.text, dict(d.metadata)) for k, d in fake.state.documents.items()} == {
        "k1": ("first, with comma", {"topic": "a"}),
        "k2": ("second", {"topic": "b"}),
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"id": 1, "text": "ok"}\n{"id": 2, "text": \n', "bad.jsonl:2: invalid JSON"),
        ("bad.jsonl", '{"id": 1, "text": "ok"}\n\n{"id": 2}\n', "bad.jsonl:3: missing the text field 'text'"),
        ("bad.jsonl", '{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n', "bad.jsonl:2: duplicate id '1'"),
        ("bad.jsonl", '["id", "text"]\n', "bad.jsonl:1: expected a JSON object"),
        ("bad.csv", "id,text\n1,ok\n2,ok,extra\n", "bad.csv:3: more fields"),
        ("bad.csv", "name,text\n1,ok\n", "bad.csv:1: no 'id' column"),
        ("bad.txt", "whatever\n", "unknown file type '.txt'"),
    ],
)
def test_index_add_bad_file_names_the_line_and_sends_nothing(cli, fake, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    code, _, err = cli("index", "add", str(path))
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not fake.state.requests["Upsert"]


def test_missing_file_is_one_line(cli, tmp_path):
    code, _, err = cli("index", "add", str(tmp_path / "nope.jsonl"))
    assert code != 0 and "nope.jsonl" in err and len(err.strip().splitlines()) == 1


def test_server_error_is_one_line_with_status(cli, fake):
    code, _, err = cli("index", "get", "missing")
    assert code == 1
    assert err.startswith("embedtune index: error:")
    assert "NOT_FOUND" in err and "missing" in err and len(err.strip().splitlines()) == 1


def test_unreachable_server_is_one_line(cli, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        code, _, err = cli("info", "--target", f"127.0.0.1:{port}", "--timeout", "5")
    assert code == 1 and "UNAVAILABLE" in err and len(err.strip().splitlines()) == 1


def test_search_with_filter_and_json(cli, fake):
    fake.state.documents.update(
        {
            "x": pb.Document(id="x", text="apple pie", metadata={"kind": "food"}),
            "y": pb.Document(id="y", text="apple laptop", metadata={"kind": "tech"}),
        }
    )
    code, out, _ = cli("search", "apple", "-k", "5", "--filter", "kind=tech", "--json")
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    assert [h["id"] for h in hits] == ["y"] and hits[0]["metadata"] == {"kind": "tech"}
    assert dict(fake.state.requests["Search"][0].filter) == {"kind": "tech"}


def test_embed_prints_one_vector_per_text(cli):
    code, out, _ = cli("embed", "first", "second", "--dimensions", "4", "--no-normalize")
    vectors = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(vectors) == 2
    assert vectors[1] == pytest.approx(fake_vector("second")[:4].tolist(), abs=1e-6)


def test_info_and_health(cli, fake):
    code, out, _ = cli("info", "--json")
    assert code == 0 and json.loads(out)["model_name"] == "fake-model"
    code, out, _ = cli("info")
    assert "limits.max_client_batch_size: 4" in out
    code, out, _ = cli("health")
    assert code == 0 and out.strip() == "SERVING"


def test_feedback_commands(cli, fake):
    assert cli("feedback", "triplet", "q", "good", "bad")[0] == 0
    assert cli("feedback", "labeled", "a", "b", "0.5")[0] == 0
    assert cli("feedback", "labeled", "a", "b", "2")[0] == 0
    assert cli("feedback", "triplet", "--by-id", "query", "d1", "d2")[0] == 0
    assert cli("feedback", "labeled", "--by-id", "d1", "d2", "1")[0] == 0
    triplet, score, label, by_id, labeled_by_id = fake.state.feedback
    assert triplet.triplet.negative.text == "bad"
    assert score.labeled_pair.score == 0.5
    assert label.labeled_pair.class_label == 2
    assert by_id.triplet.anchor.text == "query"
    assert (by_id.triplet.positive.document_id, by_id.triplet.negative.document_id) == ("d1", "d2")
    assert labeled_by_id.labeled_pair.text1.document_id == "d1"


def test_index_add_counts_progress_without_tqdm(cli, fake, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` now raises ImportError
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": f"text {i}"}) + "\n" for i in range(5)))
    code, _, err = cli("index", "add", str(path), "--batch-size", "2")
    assert code == 0 and len(fake.state.documents) == 5
    assert err.strip().endswith("5/5")
