"""`z` on a text file summarizes the text as one document, not its lines as a list of answers."""

from __future__ import annotations

import json
import textwrap

from fieldkit.tui.app import FieldkitApp
from tests.conftest import shared
from tests.tui.conftest import wait_for_workers


async def test_z_on_a_wrapped_report_summarizes_the_whole_text(tmp_path):
    article = json.loads(shared("summarization", "cnndm_dev_100.jsonl").read_text("utf-8").splitlines()[3])["article"]
    p = tmp_path / "sitrep.txt"
    p.write_text("\n".join(textwrap.fill(par, 72) if par.strip() else par for par in article.split("\n")) + "\n",
                 encoding="utf-8")
    app = FieldkitApp(str(p))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for_workers(pilot)
        screen = app.screen
        await pilot.press("z")
        await wait_for_workers(pilot)
        summary = screen.last_summary
        assert summary.strip()
        assert "% of lines" not in summary  # the answers form ("- line (~30% of lines)")
        from fieldkit.analysis.sentences import split_sentences

        flat = " ".join(article.split())
        sentences = split_sentences(summary)
        assert sentences and all(" ".join(s.split()) in flat for s in sentences)
        assert any(len(s.split()) > 12 for s in sentences)  # whole sentences, not 72-column pieces
