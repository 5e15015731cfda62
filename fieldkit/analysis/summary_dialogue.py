"""Extractive summaries of dialogues and transcripts: who spoke about what, then the turns that carry it.

Why: a transcript opens with greetings, so the first turns (the trivial baseline) say little,
and a quoted sentence without its speaker loses "who decided what". The summary is a topic
line built only from the transcript's own words (the speakers' names and its most repeated
content words) followed by the most central, on-topic sentences, each with its speaker named,
under a word budget proportional to the transcript's length, with MMR redundancy control.
Weights and the budget were chosen by 5-fold cross-validation over DialogSum dialogues
(bench/bench_summarize.py prints the held-out figure of every fold).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from fieldkit.analysis.sentences import split_sentences, word_root as _root
from fieldkit.analysis.summary_genre import Turn


@dataclass(frozen=True)
class DialogueParams:
    """Scoring weights and budget of the dialogue summarizer.

    Defaults: the grid point the folds picked most often in 5-fold CV over the 500 DialogSum
    dialogues (bench/bench_summarize.py, 72 points with the outcome line on; the outcome settings
    by their own CV, see below).
    """

    position_weight: float = 0.9  # exp(-turn / position_decay): the opening states the topic
    position_decay: float = 5.0  # turns
    central_weight: float = 0.25  # cosine to the transcript's centroid, min-max scaled
    keyword_weight: float = 0.0  # topic words in the sentence (up to 3)
    question_penalty: float = 0.1  # questions rarely carry the outcome
    mmr_penalty: float = 0.3
    budget_ratio: float = 0.05  # words of quoted sentences per word of transcript
    min_budget: int = 8  # words; the first pick is always allowed
    topic_words: int = 6  # keywords in the topic line; 0 leaves the line out
    min_words: int = 4  # shorter sentences ("Yes, sir.") only when nothing else is left
    # Low content, also only when nothing else is left: fewer content words than this (greetings
    # and service openers name none: "Afternoon, sir, is there anything I can help you with
    # today?"), or, with `need_function_word`, no function word at all (a name or title alone:
    # "Tenants Advocacy Resource Center."). Chosen by 5-fold CV (bench/bench_summarize.py).
    min_content: int = 1
    need_function_word: bool = True
    trim_fillers: bool = True  # "Well, oh, I think so." is quoted as "I think so." (clean verbatim)
    # The outcome: when no quoted sentence commits or comes from the closing part of the
    # transcript (the last `1 - closing_from` of its turns), one sentence is added from there or
    # from the other speaker's answer to the first quoted sentence (the main request): what was
    # decided, agreed or promised. The most central non-question of at most `outcome_words` words,
    # + `reply_bonus` if it is that answer, + `commit_bonus` if it commits (COMMITMENT).
    closing_from: float = 0.67  # share of the turns before the closing part
    reply_bonus: float = 0.0  # for the answer to the main request
    commit_bonus: float = 1.0  # + this if the sentence commits or agrees (COMMITMENT)
    outcome_words: int = 20  # longest outcome sentence added, in words (0 = none is added)
    outcome_cue: bool = True  # only a sentence that commits/agrees or answers a question


DEFAULT_PARAMS = DialogueParams()

# Words of greetings, thanks and service openers: they name no topic, so they are not content.
_PHATIC = frozenset(
    "hello hi hey morning afternoon evening day good welcome nice meet meeting glad pleasure help "
    "today goodbye bye thank thanks sorry excuse pardon".split())

_WORD = re.compile(r"[^\W\d_][\w'’-]*[^\W\d_]")
# Conversation fillers that are frequent in every transcript and name no topic.
# Interjections that open a spoken sentence; clean-verbatim transcripts leave them out.
_LEAD_FILLER = re.compile(
    r"^(?:(?:well|oh|yes|yeah|no|ok|okay|so|um|uh|hmm|ah|sure|right|really|great|good|fine|"
    r"alright|all right|hi|hello)\b[,.!]?\s+)+", re.I)
_FILLERS = frozenset(
    "oh well yeah yes sure um uh hmm ah right know want let sir madam mr mrs ms miss thank "
    "thanks hello hi hey bye goodbye sorry tell need going go come got say said see look mean "
    "time kind quite pretty okay ok alright mm gonna wanna maybe course please excuse".split()
)


# What a speaker says when deciding, agreeing or promising (English: the shared transcripts are;
# other languages get the closing position and the answer-to-a-question cue only): first person
# with a future or ability modal ("I'll bring you another", "we can meet at 6", "let's ..."), or
# an explicit agreement verb ("I agree", "deal", "I accept").
COMMITMENT = re.compile(
    r"\b(?:(?:I|we)(?:['’]ll|\s+will|\s+shall|\s+can(?!['’]t|not)|\s+could(?!n)|['’]d|\s+would|(?:['’]m|\s+am|['’]re|\s+are)\s+going\s+to)"
    r"|let['’]s|(?:I|we)\s+(?:agree|accept|promise|decided?|choose|take|prefer)|deal|agreed|sure|of course"
    r"|no problem|sounds\s+(?:great|good|fine|like a plan)|(?:that|it)['’]s\s+(?:a deal|fine|settled))\b",
    re.I)


# A sentence that opens with a self-repair withdraws the one before it in the same turn ("So we
# could do it on Friday. No, Saturday."): the withdrawn one is never quoted while others are left.
# "Actually", "I mean" and "Wait" were read on the 500 DialogSum transcripts: mostly they go on
# ("I mean, they smile for no reason at all.", "Wait for me here!"), so only a "No, ..." counts.
SELF_REPAIR = re.compile(r"^(?:no|nah|wait,?\s+no|i mean,?\s+no),\s*\S|^(?:or rather|scratch that)\b", re.I)


def withdrawn(speakers_turns: Sequence[int], sentences: Sequence[str]) -> np.ndarray:
    """1 where the next sentence is in the same turn and opens with a self-repair."""
    out = np.zeros(len(sentences))
    for i in range(len(sentences) - 1):
        if speakers_turns[i + 1] == speakers_turns[i] and SELF_REPAIR.match(sentences[i + 1].lstrip()):
            out[i] = 1
    return out


@dataclass(frozen=True)
class DialogueUnits:
    """Sentences of a transcript with the features the selection reads (computed once)."""

    speakers: tuple[str, ...]  # per sentence
    sentences: tuple[str, ...]
    turn: np.ndarray  # turn index per sentence
    words: np.ndarray
    vectors: np.ndarray  # L2-normalised sentence embeddings
    central: np.ndarray  # min-max scaled cosine to the centroid
    keyword_hits: np.ndarray
    question: np.ndarray
    names: tuple[str, ...]  # speakers in order of first turn
    keywords: tuple[str, ...]
    total_words: int
    commit: np.ndarray | None = None  # 1 where the sentence commits or agrees (COMMITMENT)
    n_turns: int = 0
    withdrawn: np.ndarray | None = None  # 1 where the speaker takes the sentence back (SELF_REPAIR)
    content: np.ndarray | None = None  # content words per sentence (content_counts)
    function: np.ndarray | None = None  # function (stop) words per sentence


def dialogue_sentences(turns: Sequence[Turn]) -> list[tuple[str, str, int]]:
    """(speaker, sentence, turn index) for every sentence of every turn."""
    return [(t.speaker, s, t.index) for t in turns for s in split_sentences(t.text)]


@lru_cache(maxsize=1)
def _language_stop_words() -> dict[str, frozenset[str]]:
    """Stop words per language (the stop-words package; CJK is read by characters, not words)."""
    import stop_words

    return {lang: frozenset(w.casefold() for w in stop_words.get_stop_words(lang))
            for lang in stop_words.AVAILABLE_LANGUAGES if lang not in ("chinese", "japanese", "korean")}


@dataclass(frozen=True)
class KeywordRule:
    """Which words the topic line may name; chosen by 5-fold CV on DialogSum (bench/bench_summarize.py:
    the share of shown topic words found in the references, held out)."""

    main_list: bool = True  # the stop-words package's list of the main language, English included
    opener_share: float = 0.5  # leave out words that open a sentence this often or more ("Did ...?")
    min_len: int = 3  # letters
    length_weighted: bool = False  # rank by count x log(letters), not count
    # Count a word's forms together ("interview", "interviews"), shown as said most often; and
    # when still no content word is said twice (67 of 500 DialogSum dialogues had no topic line),
    # this many said once, longest first ("electrician", not "laid"); 0 leaves the line out.
    # Both by 5-fold CV on the 480 DialogSum dialogues before the last 20 (bench: topic_fallback_cv).
    merge_forms: bool = True
    once: int = 1


KEYWORD_RULE = KeywordRule()


def transcript_stop_words(sentences: Sequence[str], main_list: bool = True) -> frozenset[str]:
    """scikit-learn's English stop words plus the stop-words package's list of the language the
    transcript uses most stop words of (English too when `main_list`: it has "did", "probably")."""
    from fieldkit.analysis.summary_vectors import english_stop_words

    lists = _language_stop_words()
    words = [w.casefold() for s in sentences for w in _WORD.findall(s)]
    main = max(lists, key=lambda lang: (sum(w in lists[lang] for w in words), lang == "english"))
    return english_stop_words() | (lists[main] if main != "english" or main_list else frozenset())


def topic_keywords(sentences: Sequence[str], names: Sequence[str], m: int = 8,
                   rule: KeywordRule = KEYWORD_RULE) -> list[str]:
    """Content words said at least twice, most frequent first (stop words, fillers, names out)."""
    from fieldkit.analysis.keywords import EXTRA_STOP_WORDS

    stop = transcript_stop_words(sentences, rule.main_list) | EXTRA_STOP_WORDS | _FILLERS
    named = {w.lower() for n in names for w in _WORD.findall(n)}
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    forms: dict[str, Counter[str]] = {}
    inside: Counter[str] = Counter()  # occurrences after a sentence's first word
    for i, s in enumerate(sentences):
        for k, w in enumerate(_WORD.findall(s)):
            lw = w.lower()
            if len(lw) < rule.min_len or lw in stop or lw in named or "'" in lw or "’" in lw:
                continue
            key = _root(lw) if rule.merge_forms else lw
            counts[key] += 1
            inside[key] += k > 0
            first.setdefault(key, i)
            forms.setdefault(key, Counter())[w if not w.isupper() or len(w) < 5 else lw] += 1
    # a word that (mostly) opens sentences ("Wow", "Probably", "Did") is a reply, not a topic
    ranked = sorted((w for w, c in counts.items() if c >= 2 and inside[w] and 1 - inside[w] / c < rule.opener_share),
                    key=lambda w: (-counts[w] * (np.log(len(w)) if rule.length_weighted else 1), first[w]))
    if not ranked and rule.once > 0:  # a short exchange: its longest words said once
        ranked = sorted((w for w in counts if inside[w]),
                        key=lambda w: (-len(forms[w].most_common(1)[0][0]), first[w]))[: rule.once]
    # written as the transcript writes it most often ("Masha", "DVD", "traffic")
    shown = [forms[w].most_common(1)[0][0] for w in ranked[:m]]
    return [f if f[1:].islower() or f.isupper() else f.lower() for f in shown]


def content_counts(sentences: Sequence[str], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(content words, function words) per sentence: content = not a stop word of the transcript's
    language, a filler, a greeting word or a speaker's name."""
    stop = transcript_stop_words(sentences)
    named = {w.lower() for n in names for w in _WORD.findall(n)}
    content, function = np.zeros(len(sentences)), np.zeros(len(sentences))
    for i, s in enumerate(sentences):
        for w in re.findall(r"[^\W\d_][\w'’]*", s):
            lw = w.casefold()
            if lw in stop or lw.replace("’", "'") in stop:
                function[i] += 1
            elif lw not in _FILLERS and lw not in _PHATIC and lw not in named:
                content[i] += 1
    return content, function


def low_content(u: "DialogueUnits", p: "DialogueParams") -> np.ndarray:
    """True where a sentence carries too little to quote (see DialogueParams.min_content)."""
    if u.content is None or u.function is None:
        return np.zeros(len(u.sentences), bool)
    return (u.content < p.min_content) | ((u.function == 0) if p.need_function_word else False)


def build_units(turns: Sequence[Turn], vectors: np.ndarray) -> DialogueUnits:
    """Features of each sentence; `vectors` are the sentences' embeddings, in order."""
    rows = dialogue_sentences(turns)
    sentences = [r[1] for r in rows]
    names = tuple(dict.fromkeys(t.speaker for t in turns if t.speaker))
    v = np.asarray(vectors, dtype=np.float32)
    if len(rows):
        centroid = v.mean(axis=0)
        centroid /= np.linalg.norm(centroid) + 1e-9
        c = v @ centroid
        c = (c - c.min()) / (c.max() - c.min() + 1e-9)
    else:
        c = np.zeros(0)
    kws = topic_keywords(sentences, names)
    content, function = content_counts(sentences, names)
    top = set(kws)
    hits = np.array([sum(w.lower() in top for w in _WORD.findall(s)) for s in sentences], dtype=float)
    return DialogueUnits(
        speakers=tuple(r[0] for r in rows),
        sentences=tuple(sentences),
        turn=np.array([r[2] for r in rows], dtype=float),
        words=np.array([sum(any(c.isalnum() for c in w) for w in s.split()) for s in sentences], dtype=float),
        vectors=v,
        central=c,
        keyword_hits=hits,
        question=np.array([s.rstrip().endswith("?") for s in sentences], dtype=float),
        names=names,
        keywords=tuple(kws),
        total_words=int(sum(len(t.text.split()) for t in turns)),
        n_turns=len(turns),
        commit=np.array([bool(COMMITMENT.search(s)) for s in sentences], dtype=float),
        withdrawn=withdrawn([r[2] for r in rows], sentences),
        content=content,
        function=function,
    )


def select_sentences(u: DialogueUnits, max_sentences: int, p: DialogueParams = DEFAULT_PARAMS) -> list[int]:
    """Indices of the sentences to quote, in reading order (greedy MMR under the word budget)."""
    n = len(u.sentences)
    if n == 0:
        return []
    score = (p.position_weight * np.exp(-u.turn / p.position_decay)
             + p.central_weight * u.central
             + p.keyword_weight * np.minimum(u.keyword_hits, 3) / 3
             - p.question_penalty * u.question)
    low = low_content(u, p)
    short = (u.words < p.min_words) | low
    if u.withdrawn is not None and (~short & (u.withdrawn == 0)).any():
        short = short | (u.withdrawn > 0)  # a withdrawn proposal reads as the decision
    if (~short).any():  # "Ok." and "Yes." are never quoted while anything longer is left
        score = np.where(short, -np.inf, score)
    budget = max(p.min_budget, p.budget_ratio * u.total_words)
    picked: list[int] = []
    redundancy = np.full(n, -1.0)
    used = 0.0
    while len(picked) < max_sentences:
        mmr = score - p.mmr_penalty * np.maximum(redundancy, 0)
        mmr[picked] = -np.inf
        if picked:
            mmr[used + u.words > budget] = -np.inf
        best = int(np.argmax(mmr))
        if not np.isfinite(mmr[best]):
            break
        picked.append(best)
        used += u.words[best]
        redundancy = np.maximum(redundancy, u.vectors @ u.vectors[best])
    if p.outcome_words > 0 and picked and u.n_turns >= 4:
        # a commitment names little ("Rea: I'll do them."): low content only bars the others
        commit = u.commit if u.commit is not None else np.zeros(n)
        extra = _outcome(u, p, picked, redundancy, p.outcome_words, short & ~(low & (commit > 0) & (u.words >= p.min_words)))
        if extra is not None:
            picked.append(extra)
    return sorted(picked)


def _outcome(u: DialogueUnits, p: DialogueParams, picked, redundancy, room: float, short) -> int | None:
    """The sentence that states the outcome: from the closing turns, or the other speaker's answer
    to the first quoted sentence (the main request); none when a quoted one already commits or
    comes from the closing turns."""
    closing = u.turn >= p.closing_from * u.n_turns
    commit = u.commit if u.commit is not None else np.zeros(len(u.sentences))
    if closing[picked].any() or commit[picked].any():
        return None
    first = min(picked)
    answer = (u.turn == u.turn[first] + 1) & (np.array(u.speakers) != u.speakers[first])
    score = (u.central + p.reply_bonus * answer + p.commit_bonus * commit
             - p.mmr_penalty * np.maximum(redundancy, 0))
    ok = (closing | answer) & (u.question == 0) & (u.words <= room) & (~short | (answer & (commit > 0)))
    if p.outcome_cue:
        ok &= (commit > 0) | answer
    if u.withdrawn is not None:
        ok &= u.withdrawn == 0
    ok[picked] = False
    if not ok.any():
        return None
    return int(np.flatnonzero(ok)[np.argmax(score[ok])])


def topic_line(u: DialogueUnits, p: DialogueParams = DEFAULT_PARAMS) -> str:
    """"A and B talk about x, y and z." from the transcript's own names and words."""
    if p.topic_words <= 0 or not u.names:
        return ""
    names = list(u.names)
    who = names[0] if len(names) == 1 else (
        " and ".join(names) if len(names) <= 3 else f"{', '.join(names[:3])} and {len(names) - 3} others")
    kws = list(u.keywords[: p.topic_words])
    if not kws:
        return ""
    what = kws[0] if len(kws) == 1 else f"{', '.join(kws[:-1])} and {kws[-1]}"
    verb = "talks" if len(names) == 1 else "talk"
    return f"{who} {verb} about {what}."


def render(u: DialogueUnits, picked: Sequence[int], p: DialogueParams = DEFAULT_PARAMS) -> list[str]:
    """The summary's lines: the topic line, then each quoted sentence with its speaker."""
    lines = [topic_line(u, p)]
    for i in picked:
        who, said = u.speakers[i], u.sentences[i]
        if p.trim_fillers:
            trimmed = _LEAD_FILLER.sub("", said)
            # never debris: the trimmed line keeps 3 words with letters and starts with one
            if len(re.findall(r"[^\W\d_][\w'’]*", trimmed)) >= 3 and re.match(r"[\w\"'“‘(]", trimmed):
                said = trimmed[0].upper() + trimmed[1:]
        lines.append(f"{who}: {said}" if who else said)
    return [ln for ln in lines if ln]


def topic_line_for(turns: Sequence[Turn], topic_words: int = DEFAULT_PARAMS.topic_words) -> str:
    """The topic line alone (no embeddings needed): frames a generated dialogue summary."""
    names = tuple(dict.fromkeys(t.speaker for t in turns if t.speaker))
    sentences = [s for _, s, _ in dialogue_sentences(turns)]
    empty = np.zeros(0)
    u = DialogueUnits((), (), empty, empty, np.zeros((0, 1)), empty, empty, empty, names,
                      tuple(topic_keywords(sentences, names)), 0)
    return topic_line(u, DialogueParams(topic_words=topic_words))
