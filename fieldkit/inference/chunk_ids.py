"""Token ids of texts from their blank-separated chunks, each distinct chunk tokenized once.

The distilled static model's tokenizer pass (its only real cost) and the default embedder's: answers repeat
their words, and WordPiece tokenizes word by word after splitting at blanks, so a text's ids are its chunks'
ids in order. Used by static_embedder.py and embedder.py (TokenEmbedder with a BERT-framed tokenizer).
"""

from __future__ import annotations

import gc
import re
import threading
from itertools import chain

import numpy as np

from fieldkit.inference.ascii_wordpiece import AsciiWordPiece

MAX_PIECES = 200_000  # distinct chunks kept (~40 MB at the cap, measured); the cache starts over past it
CHECK_TEXTS = 200  # texts the chunk-by-chunk ids are checked on against the whole-text tokenizer


# control characters Python's str.split() cuts at but BertNormalizer's clean_text removes ("a\vb" is one word to
# BERT; old Excel exports break lines in a cell with \v): removed before the split, as BERT does
_REMOVED = re.compile("[\x0b\x0c\x1c-\x1f\x85]")


def chunkable(tokenizer) -> bool:
    """Whether a text's ids can be its blank-separated chunks' ids: WordPiece splits at blanks and makes nothing
    of them; SentencePiece's Metaspace can make a token of trailing blanks, which a chunk-by-chunk pass drops."""
    return type(tokenizer.model).__name__ == "WordPiece"


class ChunkIds:
    """Each distinct chunk's ids, kept (up to MAX_PIECES chunks); checked on the first texts against the
    whole-text tokenizer, and the whole-text tokenizer for tokenizers where it does not hold."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer  # without padding or truncation
        self.pieces: dict[str, list[int]] = {}  # a blank-free chunk of text -> its token ids
        self.by_chunk: bool | None = None if chunkable(tokenizer) else False
        self.ascii = AsciiWordPiece.of(tokenizer) if self.by_chunk is None else None
        self.lock = threading.Lock()  # the cache is shared by the threads that embed with one model

    def ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(all token ids, ids per text), no special tokens.

        The cyclic garbage collector is held off meanwhile: the thousands of small id lists made here set off
        full collections of the whole process (one bench round in five took 10x as long); they hold no cycles.
        """
        with self.lock:
            was = gc.isenabled()
            gc.disable()
            try:
                return self._ids(texts)
            finally:
                if was:
                    gc.enable()

    def _ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(all token ids, ids per text), tokenizing each distinct blank-separated chunk once.

        Why: the tokenizer was ~3/4 of the time, and answers repeat their words. WordPiece tokenizes
        word by word after splitting at blanks, so a text's ids are its chunks' ids in order; that is
        checked on the first texts against the tokenizer itself, and a tokenizer for which it does not
        hold (or that is not WordPiece) is used whole. The chunks are gathered with C-level iteration
        (map, chain): a Python loop per chunk was as slow as the look-ups themselves.
        """
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        if self.by_chunk is False:
            encs = encode(texts, add_special_tokens=False)
            ids = np.fromiter(chain.from_iterable(e.ids for e in encs), np.int64)
            return ids, np.fromiter((len(e.ids) for e in encs), np.int64, len(encs))
        given, joined = texts, "\n".join(texts)
        if _REMOVED.search(joined):  # one pass over all; rare
            texts = [_REMOVED.sub("", t) for t in texts]
        if self.ascii is not None and self.ascii.lower:  # "The" and "the" one chunk (10% fewer on survey answers)
            added = self.ascii.added  # matched before the normalizer, case and all: "[CLS]" is not "[cls]"
            if added is not None and added.search(joined):
                texts = [t.lower() if t.isascii() and not added.search(t) else t for t in texts]
            else:
                texts = [t.lower() if t.isascii() else t for t in texts]
        chunks = list(map(str.split, texts))
        flat = list(chain.from_iterable(chunks))
        pieces = self.pieces
        new = list(set(flat).difference(pieces))
        if new:
            if len(pieces) + len(new) > MAX_PIECES:
                pieces.clear()  # and this batch's chunks seen before are new again (a KeyError below else)
                new = list(set(flat))
            if self.ascii is not None:
                new = self._look_up(new, pieces)
            if new:
                pieces.update(self._encode_chunks(new))
        per_chunk = list(map(pieces.__getitem__, flat))
        ids = np.fromiter(chain.from_iterable(per_chunk), np.int64)
        ids_before = np.concatenate([[0], np.cumsum(np.fromiter(map(len, per_chunk), np.int64, len(per_chunk)))])
        chunks_before = np.concatenate([[0], np.cumsum(np.fromiter(map(len, chunks), np.int64, len(chunks)))])
        lengths = np.diff(ids_before[chunks_before])
        if self.by_chunk is None:
            sample = given[:CHECK_TEXTS]  # the texts as given: the check covers the edits above too
            whole = [i for e in encode(sample, add_special_tokens=False) for i in e.ids]
            self.by_chunk = whole == ids[:int(lengths[:len(sample)].sum())].tolist()
            if not self.by_chunk:
                pieces.clear()
                return self._ids(texts)
        return ids, lengths

    def _look_up(self, chunks: list[str], pieces: dict[str, list[int]]) -> list[str]:
        """Put the ids of the chunks AsciiWordPiece can spell into pieces; the rest, for the tokenizer.

        Why: 99-100% of the distinct chunks of survey answers, banking77, dialogue turns and log lines are
        spelled this way, at 0.8-5 us a chunk against the library's 4-13 us (Chinese and Arabic go to it).
        """
        ascii_ = self.ascii
        rest, spell, words = [], ascii_.ids, ascii_.words
        lower = str.lower if ascii_.lower else str
        simple = not ascii_.added_word  # then a chunk of letters and digits is a word or a word's pieces
        for c in chunks:
            if simple and c.isascii() and c.isalnum():  # most chunks, inline: a word of the vocabulary
                i = words.get(lower(c))
                if i is not None:
                    pieces[c] = [i]
                    continue
            got = spell(c)
            if got is None:
                rest.append(c)
            else:
                pieces[c] = got
        return rest

    def _encode_chunks(self, chunks: list[str]) -> dict[str, list[int]]:
        """Each chunk's ids from one pass over the chunks joined by blanks, cut at their offsets.

        Why: the tokenizer's cost per call and per item was most of the time (6 us a chunk); one long
        string is one call. A chunk whose tokens do not fall inside it (a tokenizer that merges across
        the blank) is tokenized alone.
        """
        joined = " ".join(chunks)
        starts = np.cumsum([0] + [len(c) + 1 for c in chunks[:-1]])
        enc = self.tokenizer.encode(joined, add_special_tokens=False)
        ids = np.asarray(enc.ids, np.int64)
        spans = np.asarray(enc.offsets, np.int64).reshape(-1, 2)
        # the chunk each token ends in (a token may start on the blank before its chunk, never end on it)
        owner = np.searchsorted(starts, np.maximum(spans[:, 1] - 1, 0), side="right") - 1
        ends = starts + np.fromiter((len(c) for c in chunks), np.int64, len(chunks))
        across = owner[(spans[:, 1] > ends[owner]) | (spans[:, 0] < starts[owner] - 1)]
        cuts = np.searchsorted(owner, np.arange(len(chunks) + 1))  # tokens come in chunk order
        out = {c: ids[cuts[k]:cuts[k + 1]].tolist() for k, c in enumerate(chunks)}
        bad = {chunks[k] for k in set(across.tolist())}
        if bad:
            redo = list(bad)
            for c, e in zip(redo, self.tokenizer.encode_batch(redo, add_special_tokens=False)):
                out[c] = e.ids
        return out


def framed(tokenizer, plain, max_tokens: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(ids before, ids after) a text's own ids, when `tokenizer` frames every text the same way ([CLS] ... [SEP])
    and cuts it on the right to max_tokens, as checked on three probes against `plain` (the same tokenizer without
    special tokens or truncation); None otherwise, and the caller tokenizes whole texts."""
    probes = ["a", "hello world, 123!", "x " * (max_tokens + 8)]
    first = tokenizer.encode(probes[0], add_special_tokens=True).ids
    own = plain.encode(probes[0], add_special_tokens=False).ids
    at = next((i for i in range(len(first) - len(own) + 1) if first[i:i + len(own)] == own), None)
    if at is None:
        return None
    pre, suf = first[:at], first[at + len(own):]
    room = max_tokens - len(pre) - len(suf)
    for p in probes:
        own = plain.encode(p, add_special_tokens=False).ids
        if room < 1 or tokenizer.encode(p, add_special_tokens=True).ids != pre + own[:room] + suf:
            return None
    return np.asarray(pre, np.int64), np.asarray(suf, np.int64)
