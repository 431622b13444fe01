"""The public benchmark sets `helploop datasets fetch` downloads: origin repository, pinned commit, licence
and the sha256 of every file (services/trainer/dataset_fetch.py does the downloading), and the one set that
is rebuilt after download (CAIS)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

RAW_GITHUB = "https://raw.githubusercontent.com"


class FetchError(RuntimeError):
    """A failure to report to the user as is: the message names the file and says what to do."""


class OfflineError(FetchError):
    """The origin (or the mirror) could not be reached."""


class ChecksumError(FetchError):
    """A file's sha256 is not the pinned one."""


@dataclass(frozen=True)
class PinnedFile:
    """A file at a pinned commit of the origin repo (or, for a rebuilt file, its name) and its sha256."""

    path: str
    sha256: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


@dataclass(frozen=True)
class PublicDataset:
    """One public set: where it comes from, under which licence, and what lands in `<dir>/<folder>`."""

    name: str  # as in `helploop benchmark NAME`
    title: str
    folder: str  # the folder prepare() reads under the datasets dir
    repo: str  # owner/name on GitHub
    commit: str
    licence: str
    cite: str
    files: tuple[PinnedFile, ...]  # downloaded from the origin
    rebuilt: tuple[PinnedFile, ...] = ()  # written by `convert` from the downloads (which are then dropped)
    convert: Callable[[Path], None] | None = None  # staging dir → the `rebuilt` files in it

    @property
    def origin(self) -> str:
        return f"https://github.com/{self.repo}/tree/{self.commit}"

    @property
    def outputs(self) -> tuple[PinnedFile, ...]:
        """The files prepare() reads, with their pinned sha256."""
        return self.rebuilt or tuple(PinnedFile(f.name, f.sha256) for f in self.files)

    def url(self, file: PinnedFile, *, mirror: str = RAW_GITHUB) -> str:
        return f"{mirror.rstrip('/')}/{self.repo}/{self.commit}/{file.path}"


def _cais_utterances(path: Path) -> list[str]:
    """CAIS's `ch.<split>`: one character and its BIOES slot tag per line, a blank line after each
    utterance; the characters are joined with no separator. The first whitespace-separated token is taken
    as the character, like the copies in ../shared/datasets: on the 119 lines whose character is a space
    ("  O") that token is the tag, so those spaces read as the letter "O" (kept so that online and
    offline benchmarks see the same bytes, which the pinned sha256 of the CSVs check)."""
    utterances: list[str] = []
    chars: list[str] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        tokens = line.split()
        if tokens:
            chars.append(tokens[0])
        elif chars:
            utterances.append("".join(chars))
            chars = []
    if chars:
        utterances.append("".join(chars))
    return utterances


def rebuild_cais(staging: Path) -> None:
    """`ch.<split>` + `ch.<split>.intent` (one intent a line, one per utterance) → `<split>.csv`
    (UTF-8, `text,label`, the csv module's default quoting and CRLF line ends)."""
    for split in ("train", "valid", "test"):
        texts = _cais_utterances(staging / f"ch.{split}")
        intent_lines = (staging / f"ch.{split}.intent").read_text(encoding="utf-8").split("\n")
        labels = [line.strip() for line in intent_lines if line.strip()]
        if len(texts) != len(labels):
            raise FetchError(
                f"CAIS {split}: {len(texts)} utterances in ch.{split} but {len(labels)} intents in "
                f"ch.{split}.intent; the origin files are not in the expected format"
            )
        with (staging / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(zip(texts, labels, strict=True))


CATALOGUE: dict[str, PublicDataset] = {
    "banking77": PublicDataset(
        name="banking77",
        title="Banking77 (PolyAI)",
        folder="banking77",
        repo="PolyAI-LDN/task-specific-datasets",
        commit="57ec275d8078af65b7731c2a98be812d844a6d6b",
        licence="CC BY 4.0 (repo LICENSE, Attribution 4.0 International)",
        cite='Casanueva et al. 2020, "Efficient Intent Detection with Dual Sentence Encoders", '
        "NLP4ConvAI 2020 (arXiv:2003.04807)",
        files=(
            PinnedFile(
                "banking_data/train.csv", "b06e26ac675513959a63135f11b94ea7786ed02da65db93a5650d8838cbc664b"
            ),
            PinnedFile(
                "banking_data/test.csv", "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d"
            ),
            PinnedFile(
                "banking_data/categories.json",
                "53261da888122daf2d120d925458631d9619e15d82e56052e7a42e535ce32b63",
            ),
        ),
    ),
    "clinc150": PublicDataset(
        name="clinc150",
        title="CLINC150 / OOS-eval (Larson et al., EMNLP 2019)",
        folder="clinc150",
        repo="clinc/oos-eval",
        commit="828f8093932c8fe6ca7936c3d2e52903b1c523de",
        licence="CC BY 3.0 (repo LICENSE, Attribution 3.0 Unported)",
        cite='Larson et al. 2019, "An Evaluation Dataset for Intent Classification and Out-of-Scope '
        'Prediction", EMNLP-IJCNLP 2019',
        files=(
            PinnedFile(
                "data/data_full.json", "36923c3705a59e08fe9c3883d8bc2dd966ef93e22cb78ac41171782a698d56e0"
            ),
            PinnedFile(
                "data/domains.json", "b947b579d3b8e74b06f93b01083d8efaff2888b43a3e362533bd88a6e1211b3a"
            ),
        ),
    ),
    "cais_zh": PublicDataset(
        name="cais_zh",
        title="CAIS: Chinese Artificial Intelligence Speakers (intents)",
        folder="cais_zh",
        repo="Adaxry/CM-Net",
        commit="830ee484d6d33bd2760308a7a823a7f52291b0c5",
        licence="none stated (the repo has only a README and the data); research use",
        cite='Liu et al. 2019, "CM-Net: A Novel Collaborative Memory Network for Spoken Language '
        'Understanding", EMNLP 2019',
        # The origin files' sha256 come from a git snapshot of the pinned commit (blob ids as on GitHub).
        files=(
            PinnedFile(
                "CAIS/train/ch.train", "39dffd43cd73fd1ec3734b5c49cb40dbd08dd4567cef64b96417e6b56b3e88ce"
            ),
            PinnedFile(
                "CAIS/train/ch.train.intent",
                "b854a290519de6af20cdf08efa2b448b1447dafa0386333568850e0584fa1e35",
            ),
            PinnedFile(
                "CAIS/valid/ch.valid", "67f8b19d4aa0a4cf4ac72f963410553faa3de61d3fb84330dba93f4f9a8f69c1"
            ),
            PinnedFile(
                "CAIS/valid/ch.valid.intent",
                "14616ed2c5a98c68e72b33ac6dc6bf73dfd58b3439bf491bf1d77201d00e27a0",
            ),
            PinnedFile(
                "CAIS/test/ch.test", "c3a65357d822096898fb57465ed3b1017c7b601ca4686e8d904690049b61a508"
            ),
            PinnedFile(
                "CAIS/test/ch.test.intent", "1f5ba174412a8dc88b70cd1febc5e9cc912483d8a05f0b04c52d2d4b958cce83"
            ),
        ),
        # The CSVs prepare() reads are rebuilt here, so their sha256 (those of the copies in
        # ../shared/datasets/cais_zh) are checked after the conversion, on top of the origin files' own.
        rebuilt=(
            PinnedFile("train.csv", "73217d12424eab86791aef487b5ebf6c1211e5a97da9ef7a755b8615f6ef9b6b"),
            PinnedFile("valid.csv", "6cc3aadcc4fa4d1fa90d34e6b3660866c33c89d774fb3f7a751bd92066007013"),
            PinnedFile("test.csv", "9969459ee9f36b4c179fb1b05bd7e267327d3475004599b975c867535073d587"),
        ),
        convert=rebuild_cais,
    ),
    "waimai_zh": PublicDataset(
        name="waimai_zh",
        title="waimai_10k: Chinese food-delivery reviews with sentiment",
        folder="waimai_10k_zh",
        repo="SophonPlus/ChineseNlpCorpus",
        commit="a0b781d72158bde242c0626c9e354d2b328865ff",
        licence="none stated (source: a food-delivery platform, author unknown); internal evaluation only",
        cite="SophonPlus/ChineseNlpCorpus, datasets/waimai_10k",
        files=(
            PinnedFile(
                "datasets/waimai_10k/waimai_10k.csv",
                "b8b5c11c00b51578d35937fca56e03a126b45381f1ea4b22893237cb377a26fe",
            ),
        ),
    ),
}
