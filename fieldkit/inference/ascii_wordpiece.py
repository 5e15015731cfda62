"""BERT's WordPiece on printable ASCII chunks, as dictionary look-ups, for the chunk cache (chunk_ids.py).

Why: the `tokenizers` library costs ~7 us per chunk it is handed on this machine (a call per text, offsets, a
normalizer that handles all of Unicode); on printable ASCII, BERT's pipeline reduces to lowercasing, a cut at
each mark and a greedy longest-match over the vocabulary, which a dict does in ~1 us. Only a tokenizer whose
pipeline is exactly BertNormalizer + BertPreTokenizer + WordPiece is read this way; every other chunk (any
non-ASCII character, an added token such as "[CLS]" inside it, a word the vocabulary cannot spell) is left to
the library, and the chunk cache (chunk_ids.py) still checks its first texts against the library's own ids.
"""

from __future__ import annotations

import re

_PIECE = re.compile(r"[A-Za-z0-9]+|[!-/:-@\[-`{-~]")  # BertPreTokenizer on printable ASCII: words, each mark alone
_MARKS = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())  # every printable ASCII mark


class AsciiWordPiece:
    """A chunk's token ids from the vocabulary alone, or None for the library to do it."""

    def __init__(self, words: dict[str, int], rest: dict[str, int], lower: bool, added: list[str], max_chars: int):
        self.words, self.rest, self.lower = words, rest, lower  # word-initial pieces, "##" pieces without "##"
        self.longest = max(map(len, [*words, *rest, "x"]))
        self.max_chars = max_chars
        self.added = re.compile("|".join(map(re.escape, added)), re.IGNORECASE) if added else None
        # a chunk of letters and digits can hold an added token only if that token is letters and digits too
        self.added_word = any(a.isalnum() for a in added)

    @classmethod
    def of(cls, tokenizer) -> "AsciiWordPiece | None":
        """This reading of a `tokenizers.Tokenizer`, or None when its pipeline is not BERT's own."""
        norm, pre, model = tokenizer.normalizer, tokenizer.pre_tokenizer, tokenizer.model
        if tuple(type(x).__name__ for x in (norm, pre, model)) != ("BertNormalizer", "BertPreTokenizer", "WordPiece"):
            return None  # (attributes, not the JSON: parsing a 30k vocabulary cost ~14 ms a load)
        prefix = model.continuing_subword_prefix or "##"
        words, rest = {}, {}
        for w, i in tokenizer.get_vocab(with_added_tokens=False).items():
            if not w.isascii():
                continue
            if w.startswith(prefix) and w[len(prefix):].isalnum():
                rest[w[len(prefix):]] = i
            elif w.isalnum() or (len(w) == 1 and _PIECE.fullmatch(w)):  # "[unused0]" is cut by the pre-tokenizer
                words[w] = i
        added = [a.content for a in tokenizer.get_added_tokens_decoder().values() if a.content]
        return cls(words, rest, bool(norm.lowercase), added, int(model.max_input_chars_per_word or 100))

    def ids(self, chunk: str) -> list[int] | None:
        """The chunk's ids, or None when the library must tokenize it."""
        if not (chunk.isascii() and chunk.isprintable()):
            return None
        key = chunk.lower() if self.lower else chunk
        if chunk.isalnum():  # most chunks: one word
            if self.added_word and self.added.search(chunk):
                return None
            i = self.words.get(key)
            return [i] if i is not None else self._word(key)
        if self.added is not None and self.added.search(chunk):
            return None
        words = self.words
        core = key.rstrip(_MARKS)  # the commonest shape: a word and the marks after it ("data," "R).")
        if core and core.isalnum():
            i = words.get(core)
            if i is not None:
                tail = [words.get(m) for m in key[len(core):]]
                if None not in tail:
                    return [i, *tail]
        out: list[int] = []
        for piece in _PIECE.findall(key):
            i = words.get(piece)  # a whole word or a mark
            if i is not None:
                out.append(i)
                continue
            got = self._word(piece) if piece.isalnum() else None
            if got is None:
                return None
            out.extend(got)
        return out

    def _word(self, word: str) -> list[int] | None:
        """WordPiece's greedy longest match, first piece from the word-initial vocabulary, the rest from "##"."""
        if len(word) > self.max_chars:
            return None  # the library makes it [UNK]
        out, start, n, table, longest = [], 0, len(word), self.words, self.longest
        while start < n:
            for end in range(n if n - start < longest else start + longest, start, -1):
                i = table.get(word[start:end])
                if i is not None:
                    out.append(i)
                    start, table = end, self.rest
                    break
            else:
                return None  # a piece the vocabulary cannot spell: the library makes the word [UNK]
        return out
