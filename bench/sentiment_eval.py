"""Sentiment evaluation: plain VADER against the listener's pipeline.

Two data sets:

1. **Rated tweets** — ``tweets_GroundTruth.txt`` from VADER's paper (Hutto & Gilbert, ICWSM
   2014): 4,200 tweet-like texts, each with the mean of 20 human ratings on [-4, 4]. It ships
   only in vaderSentiment's *source distribution*, inside
   ``additional_resources/hutto_ICWSM_2014.tar.gz``; without a path on the command line the
   sdist of the installed vaderSentiment version is fetched once with ``pip download`` into
   ``$XDG_CACHE_HOME/listener`` (or ``~/.cache/listener``) and read from the tarball in memory.
2. **Caption table** — :data:`CASES`, short Instagram-style captions written for this bench:
   emoji with variation selectors, skin tones and ZWJ sequences, hashtags, handles and URLs,
   non-English and very short captions, each with the label a reader would give and why.

Run ``python -m bench.sentiment_eval [PATH]`` where PATH is ``tweets_GroundTruth.txt``, the
sdist ``.tar.gz`` or ``hutto_ICWSM_2014.tar.gz``; :func:`evaluate` returns the same markdown
for the bench runner.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Literal

# vaderSentiment 3.3.2 ships no type hints; only polarity_scores()["compound"] is used.
from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]  # the package ships no type information
    SentimentIntensityAnalyzer,
)

from listener.enrich.sentiment import (
    MIN_CONFIDENCE,
    MIN_LETTERS,
    SUPPORTED_MASS,
    VADER_EMOJI_WORDS,
    FastTextIdentifier,
    Label,
    LanguageIdentifier,
    SentimentPipeline,
    VaderAnalyzer,
    gate,
    label_for,
)
from listener.enrich.text import clean_caption, emoji_to_words

Truth = Literal["positive", "negative", "neutral"]
CLASSES: tuple[Truth, ...] = ("positive", "negative", "neutral")
#: Ground-truth cuts on the mean human rating ([-4, 4]). ±0.5: raters lean half a scale
#: point, above the noise of a few stray ratings. ±0.2: the paper's ±0.05 carried to the
#: rating scale (VADER's compound is valence / sqrt(valence² + 15), and 0.05 ↔ 0.19; also
#: 0.05 × 4 = 0.2 by linear rescaling).
CUTS = (0.5, 0.2)
PAPER_F1 = 0.96
SDIST_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"
TWEETS_FILE = "tweets_GroundTruth.txt"
REPRODUCE = ".venv/bin/python -m bench.sentiment_eval [PATH-to-tweets_GroundTruth.txt-or-sdist]"

VS16 = "\ufe0f"
ZWJ = "\u200d"


@dataclass(frozen=True)
class Case:
    """One caption of the table: its category, the label a reader gives, and why."""

    category: str
    caption: str
    expected: Label
    why: str


CASES: tuple[Case, ...] = (
    # Variation selectors: VADER iterates code points, so "❤️" (U+2764 U+FE0F) misses its lexicon.
    Case("variation selector", f"\u2764{VS16}", "positive", "red heart: love"),
    Case("variation selector", "\u2764", "positive", "same heart without U+FE0F"),
    Case(
        "variation selector",
        f"Happy anniversary \u2764{VS16}\u2764{VS16}\u2764{VS16}",
        "positive",
        "celebration and love",
    ),
    Case("variation selector", f"\u263a{VS16} lovely morning", "positive", "smile, 'lovely'"),
    Case("variation selector", f"\u2639{VS16} rain again", "negative", "frowning face"),
    Case("variation selector", f"\u2615{VS16} monday", "neutral", "a coffee, no opinion"),
    # Skin-tone modifiers (U+1F3FB-U+1F3FF).
    Case("skin tone", "👍🏽", "positive", "approval"),
    Case("skin tone", "👎🏻", "negative", "disapproval"),
    Case("skin tone", "🙌🏾 finally done", "positive", "celebrating a finish"),
    Case("skin tone", "👏🏼👏🏼👏🏼 well deserved", "positive", "applause, praise"),
    Case("skin tone", "🙏🏿 thank you all", "positive", "gratitude"),
    Case("skin tone", "🫶🏼", "positive", "heart hands (Emoji 14): affection"),
    # Zero-width-joiner sequences.
    Case("ZWJ", f"\u2764{VS16}{ZWJ}🔥", "positive", "heart on fire: passion"),
    Case("ZWJ", f"🤦{ZWJ}\u2640{VS16} missed the train again", "negative", "facepalm, mishap"),
    Case("ZWJ", f"👨{ZWJ}👩{ZWJ}👧 family day 😊", "positive", "smiling; the family is neutral"),
    Case("ZWJ", f"🤷{ZWJ}\u2642{VS16}", "neutral", "a shrug: indifference"),
    Case("ZWJ", f"🌊🏄{ZWJ}\u2642{VS16}", "neutral", "surfing, no opinion"),
    # Single-code-point emoji.
    Case("emoji", "😍😍", "positive", "adoration"),
    Case("emoji", "😡😡 worst service", "negative", "anger, 'worst'"),
    Case("emoji", "😭💔", "negative", "crying and heartbreak"),
    Case("emoji", "💔", "negative", "heartbreak"),
    Case("emoji", "🔥🔥🔥", "positive", "Instagram praise ('this is fire')"),
    Case("emoji", "🤮", "negative", "disgust"),
    Case("emoji", "🥳 we did it", "positive", "celebration"),
    Case("emoji", "😂😂 so funny", "positive", "laughter"),
    Case("emoji", "📸 new post", "neutral", "announcement"),
    Case("emoji", "🙂", "positive", "smile"),
    # Hashtags.
    Case("hashtag", "#SoHappy #BestDayEver", "positive", "happy, best"),
    Case("hashtag", "#summer_vibes #love", "positive", "love"),
    Case("hashtag", "#worstdayever", "negative", "all lower case: stays one word (known miss)"),
    Case("hashtag", "#NotHappy with the delivery", "negative", "negated happy"),
    Case("hashtag", "#ootd #fashion #style", "neutral", "topic tags only"),
    Case("hashtag", "#TBT to the best trip ever", "positive", "'best trip'"),
    Case("hashtag", "Sunday brunch #blessed", "positive", "blessed"),
    Case("hashtag", "#instagood #photooftheday #foodporn", "neutral", "reach tags, no opinion"),
    Case("hashtag", "Loving my new bag #bagaddict #ThankYouMom", "positive", "loving, thanks"),
    # Handles and URLs.
    Case(
        "handle/URL", "Shop now @killer_deals link in bio", "neutral", "an ad; 'killer' is a name"
    ),
    Case(
        "handle/URL",
        "Great collab with @the_brand https://example.com/promo",
        "positive",
        "'great'",
    ),
    Case(
        "handle/URL",
        "New drop https://shop.example.com/worst-prices-ever",
        "neutral",
        "product launch; VADER reads 'drop' as negative (known miss)",
    ),
    # Not English: the contract is "unsupported", never a guessed label.
    Case("not English", "J'adore cette robe, merci 😍", "unsupported", "French"),
    Case("not English", "Qué día tan horrible, todo salió mal", "unsupported", "Spanish"),
    Case("not English", "Muito obrigada a todos pelo carinho", "unsupported", "Portuguese"),
    Case("not English", "今日は最高の一日でした", "unsupported", "Japanese"),
    Case("not English", "Das Essen war leider kalt und teuer", "unsupported", "German"),
    Case("not English", "Me encanta este lugar", "unsupported", "Spanish, 18 letters"),
    # Too short to identify: scored on their words and emoji.
    Case("short", "ok 👍", "positive", "approval"),
    Case("short", "lol 😂", "positive", "laughter"),
    Case("short", "wow!!", "positive", "enthusiasm"),
)

#: Captions used to choose the language gate's constants, kept apart from :data:`CASES`.
GATE_DEV_NON_ENGLISH: tuple[str, ...] = (
    "Trop contente de vous retrouver ce soir",
    "Quelle belle journée à la plage",
    "C'est nul, je suis déçue",
    "Qué bonito día con mi familia",
    "No me gustó nada la comida",
    "Gracias por todo",
    "Que dia lindo na praia",
    "Adorei o presente, obrigado",
    "Não gostei do atendimento",
    "Che bella serata con gli amici",
    "Was für ein schöner Tag",
    "Wat een mooie dag",
    "Çok güzel bir gün",
    "Terima kasih banyak semuanya",
    "ありがとう",
    "美味しかった",
    "너무 좋아요",
    "今天很开心",
    "Отличный день",
    "يوم جميل",
    "Hola",
    "Merci",
    "Lindo",
    "Feliz cumpleaños",
    "Bon anniversaire ma belle",
)
GATE_DEV_ENGLISH: tuple[str, ...] = (
    "so cute",
    "love it",
    "best day ever",
    "thanks guys",
    "not bad",
    "meh",
    "omg yes",
    "can't wait",
    "new post",
    "happy birthday",
    "ugh mondays",
    "good vibes only",
    "miss you",
    "nailed it",
    "so proud of you",
    "ok",
    "lol",
    "wow",
    "yes",
    "cute",
)


@dataclass(frozen=True)
class Rated:
    """One rated tweet: the mean human rating on [-4, 4] and the text."""

    rating: float
    text: str

    def truth(self, cut: float) -> Truth:
        """The three-class label of the mean rating at ``cut``."""
        if self.rating > cut:
            return "positive"
        if self.rating < -cut:
            return "negative"
        return "neutral"


class DatasetUnavailableError(RuntimeError):
    """The rated tweets could not be found or fetched."""


# --- getting the data ----------------------------------------------------------------------


def cache_dir() -> Path:
    """Where the fetched sdist is kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "listener"


def fetch_sdist(directory: Path) -> Path:
    """Download the installed vaderSentiment version's sdist with pip, once."""
    wanted = version("vaderSentiment")
    existing = sorted(directory.glob(f"[vV]ader[sS]entiment-{wanted}.tar.gz"))
    if existing:
        return existing[0]
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"vaderSentiment=={wanted}",
        "-d",
        str(directory),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = (getattr(exc, "stderr", None) or str(exc)).strip().splitlines()
        raise DatasetUnavailableError(
            f"`{' '.join(command[2:])}` failed ({detail[-1] if detail else exc}); "
            "pass the path of tweets_GroundTruth.txt or of the sdist instead"
        ) from exc
    found = sorted(directory.glob(f"[vV]ader[sS]entiment-{wanted}.tar.gz"))
    if not found:
        raise DatasetUnavailableError(f"pip download left no sdist in {directory}")
    return found[0]


def _member_bytes(archive: tarfile.TarFile, suffix: str) -> bytes | None:
    """The bytes of the first regular member whose name ends with ``suffix``."""
    for member in archive.getmembers():
        if member.isfile() and member.name.endswith(suffix):
            handle = archive.extractfile(member)
            return handle.read() if handle is not None else None
    return None


def tweets_bytes(path: Path) -> bytes:
    """``tweets_GroundTruth.txt`` from the file itself, the sdist, or the inner archive."""
    if not path.exists():
        raise DatasetUnavailableError(f"{path} does not exist")
    if not tarfile.is_tarfile(path):
        return path.read_bytes()
    with tarfile.open(path, mode="r:*") as archive:
        direct = _member_bytes(archive, TWEETS_FILE)
        if direct is not None:
            return direct
        inner = _member_bytes(archive, SDIST_ARCHIVE.rsplit("/", 1)[-1])
    if inner is None:
        raise DatasetUnavailableError(f"{path} holds neither {TWEETS_FILE} nor {SDIST_ARCHIVE}")
    with tarfile.open(fileobj=io.BytesIO(inner), mode="r:*") as archive:
        found = _member_bytes(archive, TWEETS_FILE)
    if found is None:
        raise DatasetUnavailableError(f"{SDIST_ARCHIVE} in {path} holds no {TWEETS_FILE}")
    return found


def parse_tweets(raw: bytes) -> list[Rated]:
    """Parse ``id<TAB>mean rating<TAB>text`` lines."""
    rows = []
    for line in raw.decode("utf-8").splitlines():
        if not line.strip():
            continue
        _id, rating, text = line.split("\t", 2)
        rows.append(Rated(float(rating), text.strip()))
    return rows


def load_tweets(path: Path | None) -> tuple[list[Rated], str]:
    """The rated tweets and where they were read from."""
    source = path if path is not None else fetch_sdist(cache_dir())
    return parse_tweets(tweets_bytes(source)), str(source)


# --- metrics -------------------------------------------------------------------------------


def f1(truth: Sequence[str], predicted: Sequence[str], cls: str) -> float:
    """F1 of one class; predictions outside the truth's classes only ever miss."""
    tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == cls and p == cls)
    fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != cls and p == cls)
    fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == cls and p != cls)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of exact matches."""
    return sum(1 for t, p in zip(truth, predicted, strict=True) if t == p) / len(truth)


@dataclass(frozen=True)
class Scores:
    """Three-class accuracy and macro-F1, neutral's F1, two-class macro-F1, and coverage."""

    accuracy3: float
    macro_f1_3: float
    neutral_f1: float
    macro_f1_2: float
    scored: float


def score_labels(truth: Sequence[Truth], predicted: Sequence[Label]) -> Scores:
    """Metrics of one system at one cut; ``unsupported`` counts as a wrong answer."""
    polar = [i for i, t in enumerate(truth) if t != "neutral"]
    truth2 = [truth[i] for i in polar]
    pred2 = [predicted[i] for i in polar]
    return Scores(
        accuracy3=accuracy(truth, predicted),
        macro_f1_3=sum(f1(truth, predicted, c) for c in CLASSES) / 3,
        neutral_f1=f1(truth, predicted, "neutral"),
        macro_f1_2=(f1(truth2, pred2, "positive") + f1(truth2, pred2, "negative")) / 2,
        scored=sum(1 for p in predicted if p != "unsupported") / len(predicted),
    )


# --- the systems ---------------------------------------------------------------------------


def vader_labeller(vader: SentimentIntensityAnalyzer) -> Callable[[str], Label]:
    """Plain VADER: the raw text, the ±0.05 thresholds."""

    def label(text: str) -> Label:
        return label_for(float(vader.polarity_scores(text)["compound"]))

    return label


def emoji_variants(vader: SentimentIntensityAnalyzer) -> dict[str, Callable[[str], str]]:
    """Ways to show emoji to VADER, from none to the shipped one (all after clean_caption)."""
    return {
        "raw caption (plain VADER)": lambda text: text,
        "modifiers stripped, ZWJ split; VADER's emoji table": lambda text: clean_caption(
            text
        ).replace(ZWJ, " "),
        "CLDR names (`emoji` package)": lambda text: emoji_to_words(clean_caption(text)),
        "CLDR names + 7 overrides (shipped)": lambda text: emoji_to_words(
            clean_caption(text), VADER_EMOJI_WORDS
        ),
    }


# --- the report ----------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _marked(got: Label, expected: Label) -> str:
    return got if got == expected else f"**{got}** ✗"


def tweets_section(
    tweets: Sequence[Rated], source: str, pipeline: SentimentPipeline, plain: Callable[[str], Label]
) -> list[str]:
    """The rated-tweets tables."""
    started = time.perf_counter()
    ours = [pipeline.score(t.text) for t in tweets]
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    vader = [plain(t.text) for t in tweets]
    vader_s = time.perf_counter() - started
    counts = {
        cut: {c: sum(1 for t in tweets if t.truth(cut) == c) for c in CLASSES} for cut in CUTS
    }
    lines = [
        f"### Rated tweets (Hutto & Gilbert 2014), n = {len(tweets):,}",
        "",
        f"Source: `{source}`. Ground truth from the mean of 20 ratings on [-4, 4]: positive "
        "above +cut, negative below -cut, else neutral. Predictions: compound ≥ 0.05 "
        "positive, ≤ -0.05 negative. `unsupported` counts as wrong. Two-class F1 is the "
        "macro-F1 of positive and negative over tweets whose truth is not neutral "
        "(a neutral or unsupported prediction there is a miss).",
        "",
        "| cut | truth pos / neg / neu | system | 3-class accuracy | 3-class macro-F1 "
        "| 2-class F1 | scored |",
        "|---|---|---|---|---|---|---|",
    ]
    results: dict[tuple[float, str], Scores] = {}
    for cut in CUTS:
        truth = [t.truth(cut) for t in tweets]
        dist = " / ".join(str(counts[cut][c]) for c in CLASSES)
        for name, predicted in (
            ("plain VADER", vader),
            ("listener pipeline", [s.label for s in ours]),
        ):
            s = results[cut, name] = score_labels(truth, predicted)
            lines.append(
                f"| ±{cut} | {dist} | {name} | {s.accuracy3:.3f} | {s.macro_f1_3:.3f} "
                f"| {s.macro_f1_2:.3f} | {_pct(s.scored)} |"
            )
    loose, strict = (results[cut, "plain VADER"] for cut in (0.2, 0.5))
    lines += [
        "",
        f"**Against the paper's F1 = {PAPER_F1}** (VADER on these tweets, Table 4, thresholds "
        f"±0.05): plain VADER {version('vaderSentiment')} reaches a two-class F1 of "
        f"{loose.macro_f1_2:.3f} at ±0.2 and {strict.macro_f1_2:.3f} at ±0.5, but a "
        f"three-class macro-F1 of only {loose.macro_f1_3:.3f} / {strict.macro_f1_3:.3f}, "
        f"because neutral is its weak class (neutral F1 {loose.neutral_f1:.3f} / "
        f"{strict.neutral_f1:.3f}). The paper's figure therefore matches a polarity F1 "
        "(neutral truth left out), not a three-class macro average. The paper's text states "
        "neither the averaging nor the rating cut (Table 4 is an image), and the 2014 code "
        "differs from 3.3.2 (emoji, lexicon fixes), so agreement within about a point is as "
        "close as this replication can tell.",
    ]
    changed = [(t, v, o) for t, v, o in zip(tweets, vader, ours, strict=True) if v != o.label]
    gated = [(t, o) for t, _, o in changed if o.label == "unsupported"]
    lines += [
        "",
        f"Scoring time: pipeline {ours_s:.2f} s, plain VADER {vader_s:.2f} s "
        f"({1000 * ours_s / len(tweets):.2f} ms per caption with the language check). These "
        "tweets have almost no emoji, few camelCase tags and placeholder handles and URLs "
        "(`@anonymous`, `http://url_removed`), so preprocessing has little to fix here; this "
        "table guards against regressions, the caption table below measures the fixes.",
        "",
        f"The pipeline changes {len(changed)} of {len(tweets):,} labels; "
        f"{len(gated)} are the language gate's `unsupported`:",
        "",
        "| rating | language | tweet |",
        "|---|---|---|",
    ]
    lines += [f"| {t.rating:+.2f} | {o.language} | {_cell(t.text[:90])} |" for t, o in gated]
    others = [(t, v, o) for t, v, o in changed if o.label != "unsupported"]
    if others:
        lines += ["", "Other changed labels:", "", "| rating | plain | ours | tweet |"]
        lines += ["|---|---|---|---|"]
        lines += [
            f"| {t.rating:+.2f} | {v} | {o.label} | {_cell(t.text[:90])} |" for t, v, o in others
        ]
    return lines


def cases_section(
    pipeline: SentimentPipeline, plain: Callable[[str], Label], vader: SentimentIntensityAnalyzer
) -> list[str]:
    """The caption-table tables: summary, emoji variants, every case."""
    ours = {case.caption: pipeline.score(case.caption) for case in CASES}
    plains = {case.caption: plain(case.caption) for case in CASES}
    categories = list(dict.fromkeys(case.category for case in CASES))
    lines = [
        f"### Caption table, n = {len(CASES)}",
        "",
        "| category | n | plain VADER | listener pipeline |",
        "|---|---|---|---|",
    ]
    groups = {category: [c for c in CASES if c.category == category] for category in categories}
    groups["all"] = list(CASES)
    groups["all but not English"] = [c for c in CASES if c.category != "not English"]
    for category, chosen in groups.items():
        plain_ok = sum(1 for c in chosen if plains[c.caption] == c.expected)
        ours_ok = sum(1 for c in chosen if ours[c.caption].label == c.expected)
        lines.append(f"| {category} | {len(chosen)} | {plain_ok} | {ours_ok} |")
    emoji_rows = [c for c in CASES if c.category != "not English"]
    lines += [
        "",
        "Plain VADER has no `unsupported`, so it cannot pass a not-English row by design.",
        "",
        f"Emoji handling alone (VADER, no language gate, the {len(emoji_rows)} rows that are "
        "not 'not English'); the overrides were chosen after seeing this table's misses, "
        "each backed by the Emoji Sentiment Ranking, so their gain here is in-sample:",
        "",
        "| emoji handling | correct |",
        "|---|---|",
    ]
    for name, prepare in emoji_variants(vader).items():
        ok = sum(
            1
            for c in emoji_rows
            if label_for(float(vader.polarity_scores(prepare(c.caption))["compound"])) == c.expected
        )
        lines.append(f"| {name} | {ok} / {len(emoji_rows)} |")
    lines += [
        "",
        "| category | caption | expected | plain VADER | ours (score, language) | why |",
        "|---|---|---|---|---|---|",
    ]
    for c in CASES:
        o = ours[c.caption]
        lines.append(
            f"| {c.category} | {_cell(c.caption)} | {c.expected} "
            f"| {_marked(plains[c.caption], c.expected)} "
            f"| {_marked(o.label, c.expected)} ({o.score:+.3f}, {o.language}) | {_cell(c.why)} |"
        )
    return lines


def gate_section(
    identifier: LanguageIdentifier, supported: frozenset[str], tweets: Sequence[Rated]
) -> list[str]:
    """How the language gate's constants trade false `unsupported` for caught languages."""
    caught = sum(1 for c in GATE_DEV_NON_ENGLISH if not gate(c, identifier, supported)[1])
    kept = sum(1 for c in GATE_DEV_ENGLISH if gate(c, identifier, supported)[1])
    rejected = sum(1 for t in tweets if not gate(t.text, identifier, supported)[1])
    return [
        "### Language gate",
        "",
        f"Constants: MIN_LETTERS = {MIN_LETTERS} (Latin script), MIN_CONFIDENCE = "
        f"{MIN_CONFIDENCE}, SUPPORTED_MASS = {SUPPORTED_MASS}; chosen on these sets, not on "
        "the caption table.",
        "",
        "| set | outcome |",
        "|---|---|",
        f"| non-English dev captions marked unsupported | {caught} / {len(GATE_DEV_NON_ENGLISH)} |",
        f"| short English dev captions scored | {kept} / {len(GATE_DEV_ENGLISH)} |",
        f"| rated tweets marked unsupported | {rejected} / {len(tweets):,} |" if tweets else "",
    ]


def _report(path: Path | None) -> tuple[str, bool]:
    """The markdown section, and whether the rated tweets were available."""
    started = time.perf_counter()
    identifier = FastTextIdentifier()
    pipeline = SentimentPipeline(VaderAnalyzer(), languages={"en"}, identifier=identifier)
    vader = SentimentIntensityAnalyzer()
    plain = vader_labeller(vader)
    lines = [
        "## Sentiment: plain VADER vs the listener pipeline",
        "",
        f"Model `{pipeline.model}`; reproduce with `{REPRODUCE}`.",
        "",
    ]
    tweets: list[Rated] = []
    try:
        tweets, source = load_tweets(path)
    except DatasetUnavailableError as exc:
        lines += ["### Rated tweets", "", f"Not run: {exc}.", ""]
        available = False
    else:
        lines += [*tweets_section(tweets, source, pipeline, plain), ""]
        available = True
    lines += [*cases_section(pipeline, plain, vader), ""]
    lines += [*gate_section(identifier, pipeline.languages, tweets), ""]
    lines.append(f"_Evaluated in {time.perf_counter() - started:.1f} s._")
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n", available


def evaluate(path: Path | None = None) -> str:
    """The evaluation as a markdown section (the rated tweets are fetched if no path)."""
    return _report(path)[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the section; exit 1 when the rated tweets could not be had."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0] in {"-h", "--help"}):
        print(f"usage: {REPRODUCE}", file=sys.stderr)
        return 2
    text, available = _report(Path(args[0]) if args else None)
    print(text)
    return 0 if available else 1


if __name__ == "__main__":
    raise SystemExit(main())
