"""Shape detection, nested layouts, and the errors bad data gets before training."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from embedtune_trainer.data import DataError, DataSettings, DataShape, LabelRule, NestedExpansion, load_data
from embedtune_trainer.data.validation import check_batch_size


def _dataset(rows: list[dict]) -> datasets.Dataset:
    return datasets.Dataset.from_list(rows)


@pytest.mark.parametrize(
    ("columns", "shape"),
    [
        (("sentence1", "sentence2", "score"), DataShape.LABELED_PAIR),
        (("premise", "hypothesis", "label"), DataShape.LABELED_PAIR),
        (("query", "pos", "neg"), DataShape.TRIPLET),
        (("anchor", "positive", "negative"), DataShape.TRIPLET),
        (("anchor", "positive"), DataShape.POSITIVE_PAIR),
        (("question", "answer"), DataShape.POSITIVE_PAIR),
        (("text", "label"), DataShape.LABELED_TEXT),
        (("Sentence", "Label"), DataShape.LABELED_TEXT),
    ],
)
def test_shape_is_detected_from_aliases(columns, shape):
    values = {"score": 0.5, "label": 1, "Label": 0}
    row = {c: values.get(c, f"{c} text") for c in columns}
    data = load_data(_dataset([row, row]))
    assert data.shape is shape
    assert data.dataset.column_names == list(shape.text_columns) + (["label"] if shape.has_label else [])
    assert data.dataset[0][shape.text_columns[0]] == f"{columns[0]} text"


def test_explicit_shape_takes_unnamed_columns_in_order():
    data = load_data(_dataset([{"a": "x", "b": "y", "c": "z"}]), DataSettings(shape=DataShape.TRIPLET))
    assert data.dataset[0] == {"anchor": "x", "positive": "y", "negative": "z"}


def test_unknown_shape_lists_columns_and_accepted_shapes():
    with pytest.raises(DataError) as error:
        load_data(_dataset([{"foo": "x", "bar": "y"}]))
    message = str(error.value)
    assert "foo, bar" in message
    for shape in DataShape:
        assert shape.name.lower() in message


def test_qqp_triplets_first_and_all_combinations():
    rows = [{"set": {"query": "q1", "pos": ["p1", "p2"], "neg": ["n1", "n2", "n3"]}}]
    first = load_data(_dataset(rows))
    assert first.shape is DataShape.TRIPLET
    assert first.dataset.to_list() == [{"anchor": "q1", "positive": "p1", "negative": "n1"}]
    every = load_data(_dataset(rows), DataSettings(nested=NestedExpansion.ALL))
    assert len(every) == 6
    assert {(r["positive"], r["negative"]) for r in every.dataset} == {
        (p, n) for p in ("p1", "p2") for n in ("n1", "n2", "n3")
    }


def test_sentence_compression_pairs():
    data = load_data(_dataset([{"set": ["long sentence", "short"]}, {"set": ["another one", "one"]}]))
    assert data.shape is DataShape.POSITIVE_PAIR
    assert data.dataset[1] == {"anchor": "another one", "positive": "one"}


def test_nested_set_with_wrong_length_names_row():
    with pytest.raises(DataError, match=r"row 2 field 'set' has 4 texts"):
        load_data(_dataset([{"set": ["a", "b"]}, {"set": ["a", "b", "c", "d"]}]))


def test_headerless_csv_scaled_labels(tmp_path: Path):
    path = tmp_path / "sts.csv"
    path.write_text('A plane takes off.,"An airplane, taking off.",5.0\nA man plays.,A woman sings.,1.0\n')
    data = load_data(path, DataSettings(label_scale=5))
    assert data.shape is DataShape.LABELED_PAIR
    assert data.dataset["label"] == [1.0, 0.2]
    assert data.dataset[0]["text2"] == "An airplane, taking off."


def test_csv_with_header_tsv_jsonl_json_parquet(tmp_path: Path):
    rows = [{"query": f"q{i}", "pos": f"p{i}", "neg": f"n{i}"} for i in range(3)]
    (tmp_path / "a.csv").write_text(
        "query,pos,neg\n" + "".join(f"{r['query']},{r['pos']},{r['neg']}\n" for r in rows)
    )
    (tmp_path / "a.tsv").write_text("query\tpos\tneg\n" + "".join("\t".join(r.values()) + "\n" for r in rows))
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "a.json").write_text(json.dumps(rows))
    _dataset(rows).to_parquet(str(tmp_path / "a.parquet"))
    for suffix in ("csv", "tsv", "jsonl", "json", "parquet"):
        data = load_data(tmp_path / f"a.{suffix}")
        assert data.shape is DataShape.TRIPLET, suffix
        assert data.dataset["negative"] == ["n0", "n1", "n2"], suffix


def test_malformed_csv_names_row(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("sentence1,sentence2,score\na,b,1\nc,d\n")
    with pytest.raises(DataError, match=r"row 3 has 2 fields, expected 3"):
        load_data(path)


def test_malformed_jsonl_names_row(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"anchor": "a", "positive": "b"}\n{"anchor": "a", "positive": \n')
    with pytest.raises(DataError, match=r"row 2 is not valid JSON"):
        load_data(path)


def test_jsonl_missing_field_names_row_and_field(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"anchor": "a", "positive": "b"}\n{"anchor": "c"}\n')
    with pytest.raises(DataError, match=r"row 2 has no field 'positive'"):
        load_data(path)


def test_empty_data(tmp_path: Path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_data(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="no rows"):
        load_data(_dataset([{"anchor": "a", "positive": "b"}]).select([]))


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_labels(tmp_path: Path, bad: str):
    path = tmp_path / "sts.csv"
    path.write_text(f"sentence1,sentence2,score\na,b,0.5\nc,d,{bad}\n")
    with pytest.raises(DataError, match=r"row 2: column 'label' is .*finite"):
        load_data(path)


def test_label_outside_loss_range():
    rows = [
        {"sentence1": "a", "sentence2": "b", "score": 0.5},
        {"sentence1": "c", "sentence2": "d", "score": 4.0},
    ]
    with pytest.raises(DataError, match=r"row 2: column 'label' is 4.0, above the loss's maximum 1.0"):
        load_data(_dataset(rows), rule=LabelRule(kind="float", low=0.0, high=1.0))


def test_float_label_for_class_loss():
    rows = [{"text": "a", "label": 1.5}, {"text": "b", "label": 0.0}]
    with pytest.raises(DataError, match=r"row 1: .*integer class labels"):
        load_data(_dataset(rows), rule=LabelRule(kind="int"))


def test_missing_and_wrong_type_texts():
    with pytest.raises(DataError, match=r"row 2: column 'positive' is missing"):
        load_data(_dataset([{"anchor": "a", "positive": "b"}, {"anchor": "c", "positive": None}]))
    with pytest.raises(DataError, match=r"row 1: column 'anchor' is int 5, expected text"):
        load_data(_dataset([{"anchor": 5, "positive": "b"}]))
    with pytest.raises(DataError, match=r"row 1: column 'negative' is empty text"):
        load_data(_dataset([{"anchor": "a", "positive": "b", "negative": "  "}]))


def test_non_numeric_label_names_row(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text("sentence1,sentence2,score\na,b,0.5\nc,d,high\n")
    with pytest.raises(DataError, match=r"row 2: column 'label' is 'high', expected a number"):
        load_data(path)


def test_text_class_labels_become_ids():
    rows = [{"premise": "a", "hypothesis": "b", "label": n} for n in ("neutral", "entailment", "neutral")]
    data = load_data(_dataset(rows))
    assert data.label_names == ["entailment", "neutral"]
    assert data.dataset["label"] == [1, 0, 1]


def test_batch_larger_than_data():
    with pytest.raises(DataError, match=r"batch size 8 is larger than the 3 training examples"):
        check_batch_size(3, 8)


def test_missing_file_and_unreachable_hub(monkeypatch):
    with pytest.raises(DataError, match="no such data file"):
        load_data("./does-not-exist.csv")

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach huggingface.co")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"loading it from the Hugging Face Hub failed.*ConnectionError"):
        load_data("embedding-data/QQP_triplets")
