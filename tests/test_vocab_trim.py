"""Vocabulary trimming of the multilingual encoder: which pieces stay, and that a model on trimmed pieces
predicts exactly what it predicted on the whole vocabulary, for the texts of its own languages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

from services.trainer.demo_data import generate_tickets
from services.trainer.e5 import multilingual_e5_dir
from services.trainer.model import build_classifier
from services.trainer.train import predict_outputs
from services.trainer.vocab_trim import corpus_scripts, kept_ids, trim_vocabulary, trimmed_tokenizer_json
from tests.conftest import MODEL_CACHE

CACHE = MODEL_CACHE


def test_kept_pieces_are_specials_singles_used_and_a_quota_per_script() -> None:
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]]
    vocab += [["a", -1.0], ["好", -1.0], ["▁the", -2.0], ["▁and", -3.0], ["▁rare", -9.0]]
    vocab += [["你好", -2.5], ["快递", -4.0], ["生僻", -9.5], ["▁привет", -1.5], ["12", -2.0], ["▁45", -5.0]]
    keep = kept_ids(vocab, used={8}, specials={0, 1, 2, 3}, scripts={"Latin", "Han"}, keep_top=1)
    pieces = [vocab[i][0] for i in keep]
    assert keep == sorted(keep) and keep[:4] == [0, 1, 2, 3]  # the special pieces keep their ids
    # singles always; "▁rare" because the corpus used it; per script the one most probable other piece;
    # Cyrillic is not a corpus script; "12" (digits only) wins the quota of pieces without letters
    assert pieces == ["<s>", "<pad>", "</s>", "<unk>", "a", "好", "▁the", "▁rare", "你好", "12"]
    assert corpus_scripts(["我的包裹还没到", "where is my parcel?"]) == ["Han", "Latin"]
    assert corpus_scripts(["parcel " * 20 + "一"]) == ["Latin"]  # 1 Han letter in 121: under 1 %
    spec = {
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab},
        "added_tokens": [{"id": 0, "content": "<s>"}, {"id": 14, "content": "▁45"}],
        "post_processor": {"special_tokens": {"</s>": {"ids": [2]}}},
    }
    trimmed = trimmed_tokenizer_json(spec, [0, 1, 2, 3, 5, 14])
    assert [p for p, _ in trimmed["model"]["vocab"]] == ["<s>", "<pad>", "</s>", "<unk>", "好", "▁45"]
    assert trimmed["added_tokens"][1]["id"] == 5 and trimmed["model"]["unk_id"] == 3


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str], list[str]]:
    """multilingual-e5-small trimmed to bilingual demo tickets (seed 13); new tickets from seed 99."""
    base = multilingual_e5_dir(CACHE)
    corpus = [t.text for t in generate_tickets(per_intent=20, seed=13, languages=("en", "zh"))]
    held_out = [t.text for t in generate_tickets(per_intent=10, seed=99, languages=("en", "zh"))]
    target = tmp_path_factory.mktemp("trimmed")
    report = trim_vocabulary(base, target, corpus)
    assert report.scripts == ["Han", "Latin"]
    assert report.pieces_after < report.pieces_before / 4 and report.parameters_after < 45e6
    assert json.loads((target / "vocabulary_trim.json").read_text())["pieces_after"] == report.pieces_after
    return base, target, corpus, held_out


def _classifier(model_dir: Path, heads: dict | None = None) -> tuple[torch.nn.Module, object]:
    from transformers import AutoTokenizer

    torch.manual_seed(0)  # the head's random start: the same whatever ran before in this process
    model = build_classifier(str(model_dir), {"intent": 14}, dropout=0.1).eval()
    if heads is not None:  # the same head on both encoders
        model.heads.load_state_dict(heads)
    return model, AutoTokenizer.from_pretrained(str(model_dir))


def test_trimmed_model_predicts_as_the_full_one_on_its_languages(trimmed: tuple) -> None:
    base, target, corpus, held_out = trimmed
    full, full_tokenizer = _classifier(base)
    small, small_tokenizer = _classifier(target, heads=full.heads.state_dict())
    assert small.encoder.get_input_embeddings().weight.shape[0] < 60_000
    full_pieces = Tokenizer.from_file(str(base / "tokenizer.json"))
    small_pieces = Tokenizer.from_file(str(target / "tokenizer.json"))
    assert all(small_pieces.encode(t).tokens == full_pieces.encode(t).tokens for t in corpus)  # every one
    texts = corpus[::4] + held_out  # logits on every fourth corpus text and every new ticket
    before = predict_outputs(full, full_tokenizer, texts, 96)["intent"]
    after = predict_outputs(small, small_tokenizer, texts, 96)["intent"]
    same = np.array([small_pieces.encode(t).tokens == full_pieces.encode(t).tokens for t in texts])
    np.testing.assert_allclose(after[same], before[same], atol=1e-4)  # same pieces: the same logits
    # new tickets of the same languages: a few rare words split into smaller pieces (measured 40 of 280
    # here); the predictions barely move
    new = slice(len(corpus[::4]), None)
    assert same[new].mean() > 0.8
    assert (after.argmax(-1) == before.argmax(-1))[new].mean() >= 0.97


def test_text_in_other_scripts_still_has_no_new_unknown_characters(trimmed: tuple) -> None:
    base, target, _, _ = trimmed
    full = Tokenizer.from_file(str(base / "tokenizer.json"))
    small = Tokenizer.from_file(str(target / "tokenizer.json"))
    for text in ("Привет, где мой заказ?", "注文した荷物がまだ届きません", "Où est mon colis ?"):
        unknown = small.token_to_id("<unk>")
        assert small.encode(text).ids.count(unknown) == full.encode(text).ids.count(full.token_to_id("<unk>"))
