"""Language identification: the decompressed model kept in the cache directory answers as py3langid's
own loader does and is read without decompressing again; a cache that cannot be written costs only
time."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from shared.runtime import language

TEXTS = [
    "My parcel never arrived and I would like a refund, please.",
    "我的包裹两周了还没到，请帮我查一下物流",
    "Mein Paket ist nach zwei Wochen immer noch nicht angekommen.",
    "Ma commande n'est jamais arrivée, pouvez-vous m'aider ?",
    "Necesito cambiar la dirección de entrega de mi pedido.",
    "Моя посылка не пришла, помогите пожалуйста.",
    "注文した商品がまだ届いていません。",
    "ok",
]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's identifier forgotten for the test (and restored after it)."""
    monkeypatch.setattr(language, "_loaded", [])


def _reference() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(language.CANDIDATE_LANGUAGES))
    return identifier


def test_the_kept_model_answers_as_py3langids_own_loader(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _reference()
    written = language.load_identifier(cache_dir=tmp_path)
    (kept,) = tmp_path.iterdir()
    assert sorted(p.name for p in kept.iterdir()) == sorted(f"{key}.npy" for key in language.KEYS)

    monkeypatch.setattr(language, "_loaded", [])

    def no_decompressing(*_: object, **__: object) -> bytes:
        raise AssertionError("the kept model was decompressed again")

    monkeypatch.setattr(lzma, "decompress", no_decompressing)
    read_back = language.load_identifier(cache_dir=tmp_path)
    assert read_back is not written
    for text in TEXTS:
        assert written.classify(text) == read_back.classify(text) == reference.classify(text), text
    assert language.detect_language(TEXTS[1]).language == "zh"


def test_an_unwritable_cache_still_detects(fresh: None, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    identifier = language.load_identifier(cache_dir=blocked / "cache")
    assert identifier.classify(TEXTS[2]) == _reference().classify(TEXTS[2])
    assert list(tmp_path.iterdir()) == [blocked]  # no partial directory left behind


def test_a_damaged_kept_model_is_unpacked_again(fresh: None, tmp_path: Path) -> None:
    language.load_identifier(cache_dir=tmp_path)
    (kept,) = tmp_path.iterdir()
    (kept / "ptc.npy").write_bytes(b"not an array")
    language._loaded.clear()
    assert language.load_identifier(cache_dir=tmp_path).classify(TEXTS[0]) == _reference().classify(TEXTS[0])
    assert language._kept_arrays(kept) is not None  # kept again, sound: the next process reads it
