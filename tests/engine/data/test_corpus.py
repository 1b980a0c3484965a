"""Loading text: files, folders, built-ins, encodings, refusals, vocabulary and encoding."""

from __future__ import annotations

import codecs

import numpy as np
import pytest

from charrnn_tui.engine.data.corpus import MAX_VOCAB, CorpusError, decode_bytes, encode_text
from charrnn_tui.engine.data.sources import load_corpus


def test_load_file_builds_sorted_vocab_and_round_trips(tmp_path):
    text = "hello, world!\nsecond line\n"
    path = tmp_path / "hello.txt"
    path.write_text(text, encoding="utf-8")
    c = load_corpus(path)
    assert c.name == "hello.txt"
    assert c.encoding == "utf-8"
    assert c.chars == sorted(set(text))
    assert len(c) == len(text)
    assert c.decode(c.data) == text
    assert int(c.counts[c.chars.index("l")]) == text.count("l")
    assert c.most_common(3) == [("l", 4), ("e", 3), ("o", 3)]  # ties in vocabulary order


def test_load_accepts_str_path_and_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "t.txt").write_text("abcabc", encoding="utf-8")
    assert load_corpus("~/t.txt").decode(load_corpus(str(tmp_path / "t.txt")).data) == "abcabc"


def test_folder_concatenates_sorted_files_and_skips_binary_with_notice(tmp_path):
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("bbb", encoding="utf-8")
    (folder / "a.txt").write_text("aaa", encoding="utf-8")
    (folder / "sub" / "c.txt").write_text("ccc", encoding="utf-8")
    (folder / ".hidden.txt").write_text("zzz", encoding="utf-8")
    (folder / "blob.bin").write_bytes(b"\x00\x01\x02binary\x00")
    c = load_corpus(folder)
    assert c.decode(c.data) == "aaa\nbbb\nccc"
    assert "z" not in c.chars
    assert len(c.notices) == 1
    assert "blob.bin" in c.notices[0] and "skipped" in c.notices[0]
    assert "NUL" in c.notices[0] or "binary" in c.notices[0]


def test_folder_skips_hidden_folders_like_git(tmp_path):
    folder = tmp_path / "project"
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main", encoding="utf-8")
    (folder / ".git" / "objects" / "notes.txt").write_text("qqq", encoding="utf-8")
    (folder / "docs").mkdir()
    (folder / "docs" / "a.txt").write_text("abab", encoding="utf-8")
    c = load_corpus(folder)
    assert c.decode(c.data) == "abab" and c.notices == []


def test_folder_with_no_text_is_refused(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(CorpusError, match="no readable text"):
        load_corpus(folder)
    (folder / "x.bin").write_bytes(b"\x00" * 32)
    (folder / "empty.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match=r"no readable text files \(1 skipped\)"):
        load_corpus(folder)


def test_builtin_by_name():
    c = load_corpus("builtin:python-docs")
    assert c.name == "builtin:python-docs"
    assert len(c) > 100_000 and c.vocab_size > 50


def test_unknown_builtin_is_refused():
    with pytest.raises(CorpusError, match="unknown built-in corpus 'nope'"):
        load_corpus("builtin:nope")


@pytest.mark.parametrize(("bom", "codec", "name"), [
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
])
def test_bom_picks_the_encoding(tmp_path, bom, codec, name):
    text = "naïve café — ok\n"
    path = tmp_path / "bom.txt"
    path.write_bytes(bom + text.encode(codec))
    c = load_corpus(path)
    assert c.encoding == name
    assert c.decode(c.data) == text  # the BOM is not part of the text
    assert "\ufeff" not in c.chars


def test_latin1_without_encoding_is_refused_with_byte_offset(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"abc caf" + "é and more".encode("latin-1"))
    with pytest.raises(CorpusError) as err:
        load_corpus(path)
    message = str(err.value)
    assert "not valid UTF-8 at byte 7" in message
    assert "--encoding" in message and "\n" not in message


def test_latin1_with_explicit_encoding_is_accepted(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("café crème".encode("latin-1"))
    c = load_corpus(path, encoding="latin-1")
    assert c.encoding == "latin-1"
    assert c.decode(c.data) == "café crème"


def test_explicit_encoding_errors_are_corpus_errors(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"ok \xff")
    with pytest.raises(CorpusError, match="unknown encoding 'nope'"):
        load_corpus(path, encoding="nope")
    with pytest.raises(CorpusError, match="not valid ascii at byte 3"):
        load_corpus(path, encoding="ascii")


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "x.dat"
    path.write_bytes(b"text\x00more")
    with pytest.raises(CorpusError, match="binary"):
        load_corpus(path)


def test_empty_and_missing_files_are_refused(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus(empty)
    with pytest.raises(CorpusError, match="no such file"):
        load_corpus(tmp_path / "missing.txt")
    bom_only = tmp_path / "bom.txt"
    bom_only.write_bytes(codecs.BOM_UTF8)
    with pytest.raises(CorpusError, match="is empty"):
        load_corpus(bom_only)


def test_decode_bytes_names_the_source():
    with pytest.raises(CorpusError, match=r"^upload: not valid UTF-8 at byte 1;"):
        decode_bytes(b"a\xe9", source="upload")
    assert decode_bytes(b"plain") == ("plain", "utf-8")


def test_small_vocab_is_uint8_and_compact():
    c = encode_text("abcab" * 1000)
    assert c.data.dtype == np.uint8
    assert c.data.nbytes == len(c) == 5000
    assert c.chars == ["a", "b", "c"]
    assert c.data[:5].tolist() == [0, 1, 2, 0, 1]


def test_exactly_256_chars_stays_uint8_and_257_goes_uint16():
    text256 = "".join(chr(0x100 + i) for i in range(256))
    assert encode_text(text256).data.dtype == np.uint8
    c = encode_text(text256 + "!")
    assert c.data.dtype == np.uint16
    assert c.vocab_size == 257
    assert c.chars == sorted(c.chars)
    assert c.decode(c.data) == text256 + "!"


def test_max_vocab_is_accepted_and_one_more_is_refused():
    cps = [cp for cp in range(0x20, 0x30000) if not 0xD800 <= cp <= 0xDFFF]
    text = "".join(map(chr, cps[:MAX_VOCAB]))
    c = encode_text(text)
    assert c.vocab_size == MAX_VOCAB and c.data.dtype == np.uint16
    assert c.decode(c.data[-3:]) == text[-3:]
    with pytest.raises(CorpusError, match="more than 65,535 distinct characters"):
        encode_text(text + chr(cps[MAX_VOCAB]))


def test_split_is_90_10_and_uses_views():
    c = encode_text("abcdefghij" * 10)
    train, val = c.split()
    assert len(train) == 90 and len(val) == 10
    assert np.shares_memory(train, c.data) and np.shares_memory(val, c.data)
    assert c.decode(val) == "abcdefghij"
    train, val = c.split(0.5)
    assert len(train) == len(val) == 50


def test_sha256_identifies_the_text():
    a, b = encode_text("same text"), encode_text("same text")
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    assert encode_text("other text").sha256 != a.sha256
