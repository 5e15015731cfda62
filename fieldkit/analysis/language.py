"""Which languages a text column is in, and so which embedding model fits it (auto choice).

An English model puts "water is far" and "l'eau est loin" in different corners, so a mixed
survey splits into one theme per language. py3langid (numpy only, model inside the package)
labels a sample of answers: measured on the 300 labelled answers of the sample survey it is
as accurate as lingua (0.97) at ~25,000 answers/s against ~400, and loads in 0.6 s against 10 s.

CONTRACT: choose_model(texts, model_id=None) -> ModelChoice; model_id None means auto.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence

# answers labelled per column: the share's standard error stays under 1 point at 2,000
SAMPLE = 2000
# above this share of non-English answers the English default model is the wrong tool (issue 13)
NON_ENGLISH_SHARE = 0.10
# fewer letters than this say too little about the language to count
MIN_LETTERS = 3
# an answer counts only when py3langid's normalised probability of its language is at least this:
# short English answers ("Community", "Open source", "Flexibility") come out as Latin, Bikol or
# Romanian at probability 0.04-0.2, which made an English-only survey column (R community survey,
# "like best") look 21% non-English and switched it to the multilingual model. Leave one set out
# over 6 labelled columns (2 English survey questions, Banking77, 2 Chinese review sets, the mixed
# sample survey) picks 0.4 in 5 folds (0.9 on the mixed one) from 0-0.9, and every left-out
# column gets the right model: the R columns' share falls to 1%, the sample survey keeps 41%.
MIN_CONFIDENCE = 0.4
# multilingual embedding models, best first (the manifest's `multilingual: true` adds to these):
# e5 codes the Chinese reviews better (10 per class, bench_code: coder 0.660 vs 0.579, ECE 0.039 vs
# 0.062) and themes the sample survey at least as well across languages (bench_e5: ARI vs topic
# 0.378 vs 0.340, NMI with language 0.080 vs 0.077); use-multilingual when only it is installed
MULTILINGUAL_MODELS = ("multilingual-e5-small", "use-multilingual")
PREPARE_HINT = "fieldkit models prepare multilingual-e5-small"


@dataclass
class LanguageMix:
    """Language counts over a sample of a column's non-empty answers."""

    counts: dict[str, int] = field(default_factory=dict)
    sampled: int = 0  # answers whose language was told with confidence: the shares' denominator
    answers: int = 0
    unsure: int = 0  # sampled answers too short or too mixed to tell (below MIN_CONFIDENCE)

    @property
    def non_english_share(self) -> float:
        if not self.sampled:
            return 0.0
        return 1.0 - self.counts.get("en", 0) / self.sampled

    def describe(self, top: int = 5) -> str:
        """'en 58%, fr 22%, es 14%, ar 6%' (most common first)."""
        if not self.sampled:
            return "no text to tell" if not self.unsure else "answers too short to tell"
        items = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        items = [(lang, n) for lang, n in items if n / self.sampled >= 0.005]  # drop 0% strays
        parts = [f"{lang} {n / self.sampled:.0%}" for lang, n in items[:top]]
        if len(items) > top:
            parts.append(f"{len(items) - top} more")
        if self.unsure:
            parts.append(f"{self.unsure} too short to tell")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"sampled": self.sampled, "answers": self.answers, "unsure": self.unsure,
                "non_english_share": round(self.non_english_share, 4),
                "counts": dict(sorted(self.counts.items(), key=lambda kv: -kv[1]))}


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text[:200])


_IDENTIFIER: Any = None


def _identifier() -> Any:
    """py3langid with normalised probabilities (loaded once; the module's default gives none)."""
    global _IDENTIFIER
    if _IDENTIFIER is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _IDENTIFIER


def detect_languages(texts: Sequence[Any], sample: int = SAMPLE, seed: int = 0) -> LanguageMix:
    """Language of each of up to `sample` non-empty answers (seeded sample, so reruns agree);
    answers told with less than MIN_CONFIDENCE are counted as unsure, not as a language."""
    identify = _identifier()
    usable = [i for i, t in enumerate(texts) if t is not None and _letters(str(t)) >= MIN_LETTERS]
    mix = LanguageMix(answers=len(usable))
    if len(usable) > sample:
        usable = sorted(random.Random(seed).sample(usable, sample))
    for i in usable:
        lang, prob = identify.classify(" ".join(str(texts[i]).split())[:1000])
        if prob < MIN_CONFIDENCE:
            mix.unsure += 1
            continue
        mix.counts[lang] = mix.counts.get(lang, 0) + 1
    mix.sampled = len(usable) - mix.unsure
    return mix


@dataclass
class ModelChoice:
    """The embedding model a job will use, why, and what to do when the better one is missing."""

    model_id: str
    reason: str
    auto: bool
    languages: LanguageMix | None = None
    missing: str | None = None  # the multilingual model wanted but not installed: the command

    def notes(self) -> list[str]:
        """Lines for the user (CLI stderr, TUI notice)."""
        out = [f"model {self.model_id}: {self.reason}"] if self.auto else []
        if self.missing:
            out.append(f"no multilingual model is installed; install one with `{self.missing}` "
                       "and run again")
        return out

    def provenance(self) -> dict[str, Any]:
        info: dict[str, Any] = {"model_choice": "auto" if self.auto else "asked",
                                "model_reason": self.reason}
        if self.languages is not None:
            info["languages"] = self.languages.as_dict()
        if self.missing:
            info["model_missing"] = self.missing
        return info


def multilingual_models() -> list[str]:
    """Known multilingual embedding model ids, best first."""
    from fieldkit.inference.manifest import all_entries

    ids = list(MULTILINGUAL_MODELS)
    ids += [e.id for e in all_entries() if e.task == "embed" and e.raw.get("multilingual")
            and e.id not in ids]
    return ids


def installed_multilingual() -> str | None:
    """The best multilingual model that is installed here, or None."""
    from fieldkit.errors import ModelError
    from fieldkit.inference.manifest import get_entry
    from fieldkit.inference.model_store import is_installed

    for model_id in multilingual_models():
        try:
            if is_installed(get_entry(model_id)):
                return model_id
        except ModelError:
            continue
    return None


def choose_model(texts: Sequence[Any], model_id: str | None = None,
                 mix: LanguageMix | None = None) -> ModelChoice:
    """The model asked for, or (None) the default unless >10% of answers are not English."""
    from fieldkit.inference.manifest import get_entry

    if model_id is not None:
        return ModelChoice(get_entry(model_id).id, "asked for with --model", auto=False)
    default = get_entry(None).id
    mix = mix if mix is not None else detect_languages(texts)
    if default in multilingual_models():
        return ModelChoice(default, f"the default model is multilingual ({mix.describe()})",
                           auto=True, languages=mix)
    share = mix.non_english_share
    if mix.sampled == 0 or share <= NON_ENGLISH_SHARE:
        why = (f"{share:.0%} of answers are not English ({mix.describe()})" if mix.sampled
               else f"{mix.describe()} the language")
        return ModelChoice(default, f"default model; {why}", auto=True, languages=mix)
    found = installed_multilingual()
    why = f"{share:.0%} of answers are not English ({mix.describe()})"
    if found is None:
        return ModelChoice(default,
                           f"English default model although {why}: no multilingual model installed",
                           auto=True, languages=mix, missing=PREPARE_HINT)
    return ModelChoice(found, f"multilingual model because {why}", auto=True, languages=mix)
