"""Issue 19, item 5: the tensor data carries a checksum, verified on load; older files
without one still load, with a notice."""

from __future__ import annotations

import random

import pytest
from helpers import kit
from helpers.mutate import split, with_meta

from charrnn_tui.cli import main
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.checksum import KEY
from charrnn_tui.engine.storage.modelfile import ModelFileError


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "m.safetensors"
    modelfile.save(path, kit.checkpoint("torch"))
    return path


def test_any_flipped_byte_in_the_tensor_data_is_refused(good, tmp_path):
    raw = good.read_bytes()
    _, data = split(raw)
    rng = random.Random(5)
    for i in range(40):
        pos = len(raw) - len(data) + rng.randrange(len(data))
        bad = bytearray(raw)
        bad[pos] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flip{i}.safetensors"
        path.write_bytes(bytes(bad))
        with pytest.raises(ModelFileError, match="checksum check|finiteness check"):
            modelfile.load(path)


def test_a_file_without_a_checksum_loads_with_a_notice(good, tmp_path, capsys):
    old = tmp_path / "old.safetensors"
    old.write_bytes(with_meta(good.read_bytes(), lambda m: m.pop(KEY)))
    _, meta = modelfile.load(old)
    assert meta["checksum"] is None and "before model files carried a checksum" in \
        meta["notices"][0]
    assert modelfile.load(good)[1]["notices"] == []
    assert main(["sample", str(old), "--length", "5"]) == 0
    assert "cannot be verified" in capsys.readouterr().err
