"""The text path: reading, header stripping, vocabulary, model round trip, search, errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from retrieval.codes import HashEncoder
from retrieval.sources import TrainSpec, train_text_encoder
from retrieval.text import (
    UnreadableText,
    Vocabulary,
    list_documents,
    read_document,
    split_header,
    tokenize,
)
from retrieval.training import TrainConfig
from semhash.cli import cli

TOPICS = {
    "space": "orbit shuttle launch nasa rocket moon planet satellite astronaut mission",
    "hockey": "goal puck ice team season player playoff coach game score",
    "cooking": "recipe oven flour butter sugar bake kitchen pepper garlic sauce",
}
FILLER = "about really think people said would could just know time".split()


def make_corpus(root, per_topic=30, seed=0):
    rng = np.random.default_rng(seed)
    for topic, words in TOPICS.items():
        (root / topic).mkdir(parents=True, exist_ok=True)
        words = words.split()
        for i in range(per_topic):
            body = " ".join(rng.choice(words + FILLER, size=40))
            header = (f"Newsgroups: rec.{topic}\nPath: news!{topic}\nSubject: post {i} on "
                      f"{topic}\nLines: 3\n\n")  # fmt: skip
            (root / topic / str(1000 + i)).write_text(header + body + "\n")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("docs"))


@pytest.fixture(scope="module")
def text_collection(tmp_path_factory, corpus):
    path = tmp_path_factory.mktemp("tc") / "news.semhash"
    result = CliRunner().invoke(
        cli, ["index", str(corpus), "-c", str(path), "--bits", "16", "--epochs", "100", "-q"]
    )
    assert result.exit_code == 0, result.output
    return path


def test_header_is_stripped_and_subject_kept():
    fields, body = split_header("From: a@b\nSubject: Hello\n  world\nNewsgroups: x.y\n\nBody text")
    assert fields["subject"] == "Hello world" and fields["newsgroups"] == "x.y"
    assert body == "Body text"
    assert split_header("Dear all: hi\nnot a header\n\nrest")[0] == {}
    assert split_header("no header here\n\nbody")[1] == "no header here\n\nbody"


def test_read_document_oddities(tmp_path):
    (tmp_path / "latin").write_bytes("Subject: caf\xe9\n\nna\xefve text".encode("latin-1"))
    doc = read_document(tmp_path / "latin")
    assert doc.title == "café" and "naïve" in doc.text
    (tmp_path / "utf8.txt").write_text("Première ligne\nsecond", encoding="utf-8")
    assert read_document(tmp_path / "utf8.txt").title == "Première ligne"
    for name, data, reason in [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\n ", "empty"),
        ("bin.txt", bytes(range(256)) * 10, "binary"),
    ]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnreadableText, match=reason):
            read_document(tmp_path / name)


def test_huge_document_is_read_in_part(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "w") as fh:
        for _ in range(50 * 1024):  # 50 MB
            fh.write(("shuttle " * 128)[:1023] + "\n")
    doc = read_document(big)
    assert doc.size == 50 * 1024 * 1024 and len(doc.text) <= 4 * 1024 * 1024
    assert len(doc.sha256) == 64


def test_vocabulary_by_document_frequency():
    texts = ["apple banana the", "apple cherry", "apple banana", "durian"] * 20
    vocab = Vocabulary.build(texts, size=2, min_df=3, max_df=0.9)
    # "the" is a stop word; apple is in 75% of documents, banana in 50%, cherry/durian 25%
    assert vocab.words == ["apple", "banana"]
    vocab = Vocabulary.build(texts, size=10, min_df=3, max_df=0.6)
    assert vocab.words == ["banana", "cherry", "durian"]  # apple is too common
    counts = Vocabulary(["apple", "banana"]).counts(["apple apple banana kiwi", "kiwi"])
    assert counts.toarray().tolist() == [[2.0, 1.0], [0.0, 0.0]]
    assert tokenize("Don't STOP the Rocket-launch at 9pm!", frozenset({"the"})) == [
        "don", "stop", "rocket", "launch", "at",
    ]  # fmt: skip


def test_text_checkpoint_round_trip(tmp_path, corpus):
    texts = [read_document(p).text for p in list_documents(corpus)]
    spec = TrainSpec(bits=16, train=TrainConfig(epochs=2, batch_size=32))
    encoder, _ = train_text_encoder(texts, spec)
    encoder.save(tmp_path / "t.pt")
    back = HashEncoder.load(tmp_path / "t.pt")
    assert back.extra["vocab"] == encoder.extra["vocab"] and back.config.kind == "text"
    counts = Vocabulary(back.extra["vocab"]).counts(texts)
    assert np.array_equal(back.encode(counts), encoder.encode(counts))
    assert back.fingerprint() == encoder.fingerprint()


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_text_search_finds_the_topic(text_collection):
    result = run("search", text_collection, "--text", "shuttle launch into orbit", "-k", 10,
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)["results"]
    assert len(hits) == 10 and all("title" in h for h in hits)
    assert sum(h["label"] == "space" for h in hits) >= 8
    assert all(h["title"].startswith("post ") for h in hits)  # the Subject: header
    info = json.loads(run("info", text_collection, "--json").output)
    assert info["kind"] == "text" and info["items"] == 90
    # the header named the group: it must not be in the vocabulary
    assert (
        "rec" not in info["model"]
        and "space" not in HashEncoder.load(text_collection / "model.pt").extra["vocab"]
    )


def test_text_baseline_and_id_and_folder(text_collection, corpus, tmp_path):
    raw = run("search", text_collection, "--id", 0, "--baseline", "raw", "--json")
    assert raw.exit_code == 0, raw.output
    hits = json.loads(raw.output)["results"]
    assert hits[0]["id"] == 0 and hits[0]["distance"] == pytest.approx(0, abs=1e-5)
    assert sum(h["label"] == hits[0]["label"] for h in hits) >= 8
    q = tmp_path / "q"
    q.mkdir()
    (q / "a.txt").write_text("bake the bread with flour and butter")
    (q / "b.txt").write_text("the and of it")  # stop words only: skipped and reported
    (q / "c.txt").write_bytes(b"")
    result = run("search", text_collection, "--query", q, "--json", "-k", 5)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # JSON on stdout; progress and skips on stderr
    assert len(lines) == 1 and json.loads(lines[0])["query"].endswith("a.txt")
    assert "b.txt: no known words" in result.stderr and "c.txt: empty document" in result.stderr


@pytest.mark.parametrize(
    "args,words",
    [
        (("--text", "the and of"), "nothing to search with"),
        (("--text", "zzzz qqqq"), "nothing to search with"),
        (("--query", "{img}"), "cannot be searched with images"),
        (("--query", "{empty}"), "empty document"),
        (("--text", "orbit", "--sheet", "{tmp}/s.png"), "text collection"),
    ],
)
def test_text_user_errors(text_collection, tmp_path, args, words):
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "q.png")
    (tmp_path / "e.txt").write_text("")
    fill = {"img": tmp_path / "q.png", "empty": tmp_path / "e.txt", "tmp": tmp_path}
    result = run("search", text_collection, *[a.format(**fill) for a in args])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert words in result.output


def test_image_collection_refuses_text(collection):
    result = run("search", collection, "--text", "hello")
    assert result.exit_code == 1 and "needs a text one" in result.output
