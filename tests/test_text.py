"""The text path: reading, header stripping, vocabulary, model round trip, search, errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from semantic_hashing.cli import cli
from semantic_hashing.retrieval.codes import HashEncoder
from semantic_hashing.retrieval.errors import SemhashError
from semantic_hashing.retrieval.fitting import TrainSpec, train_text_encoder
from semantic_hashing.retrieval.text import (
    UnreadableText,
    Vocabulary,
    list_documents,
    read_document,
    split_header,
    tokenize,
)
from semantic_hashing.retrieval.training import TrainConfig

from .conftest import TOPICS, make_corpus


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


# A 20 Newsgroups post shaped like the 824 whose header holds `Article-I.D.:` (a field name
# with dots), which an alphanumeric-only header pattern took for "no header": the group
# names in Xref:, Newsgroups: and Path: then leaked into the bag of words.
DOTTED_POST = """\
Xref: cantaloupe.srv.cs.cmu.edu sci.space:61123 sci.astro:35000
Path: cantaloupe.srv.cs.cmu.edu!news.sei.cmu.edu!sci.space
From: someone@example.edu (Some One)
Newsgroups: sci.space,sci.astro
Subject: Re: orbit insertion burn
Message-ID: <1993Apr20.123456.1@example.edu>
Article-I.D.: example.1993Apr20.123456.1
X-Mailer:\tsome mailer 1.0
Organization: Example University
Lines: 2

The burn lasted six minutes.
Regards.
"""


def test_header_with_any_rfc822_field_name_is_stripped(tmp_path):
    fields, body = split_header(DOTTED_POST)
    assert fields["article-i.d."] == "example.1993Apr20.123456.1"
    assert fields["x-mailer"] == "some mailer 1.0" and fields["newsgroups"] == "sci.space,sci.astro"
    assert body == "The burn lasted six minutes.\nRegards.\n"
    (tmp_path / "61123").write_text(DOTTED_POST, encoding="latin-1")
    doc = read_document(tmp_path / "61123")
    assert doc.title == "Re: orbit insertion burn"
    words = set(tokenize(doc.text, frozenset()))
    assert not words & {"sci", "space", "astro", "xref", "cantaloupe", "newsgroups", "path"}
    # a first line with a blank in the name, or a URL, is still not a header
    assert split_header("Dear all: hi\n\nrest")[0] == {}
    assert split_header("http://example.com/a\n\nrest")[0] == {}


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


def test_vocabulary_by_total_count_by_hand():
    # 60 documents: "kiwi" is in 10 of them but 8 times in each (total 80), "plum" in 40 once
    # (total 40), "fig" in 30 once (30), "lime" in 2 (below min_df 3), "the" a stop word
    texts = ["kiwi " * 8 + "plum fig"] * 10 + ["plum fig the"] * 20 + ["plum"] * 10
    texts += ["lime"] * 2 + ["grape"] * 18
    by_df = Vocabulary.build(texts, size=3, min_df=3, max_df=0.9)
    assert by_df.words == ["plum", "fig", "grape"]  # df 40, 30, 18; kiwi's 10 is lower
    by_count = Vocabulary.build(texts, size=3, min_df=3, max_df=0.9, by="count")
    assert by_count.words == ["kiwi", "plum", "fig"]  # totals 80, 40, 30
    # the document-frequency limits still apply when ranking by count
    assert "lime" not in Vocabulary.build(texts, size=10, by="count").words
    assert "plum" not in Vocabulary.build(texts, size=10, max_df=0.6, by="count").words
    with pytest.raises(SemhashError, match="ranking"):
        Vocabulary.build(texts, by="tfidf")


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
    hits = json.loads(raw.output)["baseline"]["results"]
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


def test_bow_model_weightings_and_decoder_depths():
    import torch

    from semantic_hashing.retrieval.families import build_model
    from semantic_hashing.retrieval.models import ModelConfig

    counts = np.random.default_rng(0).poisson(0.5, (8, 30)).astype(np.float32)
    for weighting, layers in (("log", 1), ("tfidf", 0), ("tfidf", 2)):
        cfg = ModelConfig(model_type="bow-ae", kind="text", bits=8, vocab_size=30, hidden=16,
                          corruption="mask", corruption_level=0.5, input_weighting=weighting,
                          decoder_layers=layers)  # fmt: skip
        model = build_model(cfg)
        linears = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
        assert len(linears) == layers + 1
        x = model.prepare(counts)
        assert torch.equal(x, torch.from_numpy(counts))  # the counts; weighting is the encoder's
        feats = model.inputs.features(x)
        if weighting == "tfidf":
            assert torch.allclose(feats.norm(dim=1)[x.sum(1) > 0], torch.ones(1))
        loss, _ = model.loss(x)
        assert torch.isfinite(loss)
    for bad in ({"input_weighting": "bm25"}, {"decoder_layers": 9}):
        with pytest.raises(SemhashError):
            ModelConfig(model_type="bow-ae", kind="text", vocab_size=30, **bad).validate()


def test_short_typed_query_is_a_hamming_shortlist_reranked_by_tfidf(text_collection):
    """90 posts < the 1,000-item shortlist: the re-ranked answer must be the TF-IDF cosine
    ranking of the whole collection (brute force), with the same distances."""
    from semantic_hashing.indexer.store import Store
    from semantic_hashing.query.search import search, text_query

    coll = Store.open(text_collection)
    query = text_query(coll, "shuttle launch into orbit")
    ranked = search(coll, query, k=20)[0]
    brute = search(coll, query, k=20, baseline="raw")[0]
    assert ranked.method == "hamming+tfidf" and brute.method == "tfidf-cosine"
    assert [h.distance for h in ranked.results] == pytest.approx(
        [h.distance for h in brute.results], abs=1e-4
    )
    top = [h.id for h in ranked.results if h.distance < 1 - 1e-4]  # non-zero cosine
    assert top == [h.id for h in brute.results][: len(top)] and len(top) >= 10
    assert sum(h.label == "space" for h in ranked.results[:10]) == 10
    plain = search(coll, query, k=20, rerank_short=False)[0]
    assert plain.method == "hamming" and all(isinstance(h.distance, int) for h in plain.results)
    # a whole post is not short: plain Hamming search
    long_query = text_query(coll, TOPICS["cooking"] + " " + TOPICS["hockey"])  # 20 words
    assert search(coll, long_query, k=5)[0].method == "hamming"
