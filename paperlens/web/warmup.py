"""What the page needs before its first answer, loaded in the background while it loads.

The first question after start used to pay for everything loaded lazily on the way (the
model's first encoding, the paper-name matcher, the library snapshot: seconds, where later
questions take a tenth of one). `Warmup` asks throwaway questions on a private
conversation as soon as the app is served, so every lazily built piece of the path is
built before a person asks; then it draws the "Try" examples from the library
(`example_questions`, which needs the library's map). The page says "loading the
library…" until the first part is done (`WebApp.on_load` waits for it).

Example:
    >>> warm = Warmup(bot)                                           # doctest: +SKIP
    >>> warm.start(); warm.answering.wait(60); warm.examples()      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from assistant import Assistant, PaperLensError, example_questions

log = logging.getLogger("paperlens.warmup")

EXAMPLES_SHOWN = 4  # the page's buttons for them
# One question of each path a first question may take: a topic list, and a detail of a
# paper's body (which scores the passages of its PDF).
WARM_UP_QUESTIONS = (
    "Which papers study the main topic of this library?",
    "What batch size did the authors train with?",
)
# The bundled sample library's pages: a library read from exactly these gets the sample's
# own examples, written for it; any other library gets examples drawn from itself.
SAMPLE_EXAMPLES = (
    "Which papers study speculative decoding?",
    "Which papers propose benchmarks for LLM agents?",
    "How do diffusion language models compare to autoregressive ones?",
    "Which papers reduce the KV cache memory of long-context inference?",
)
SAMPLE_PAGES = frozenset(
    [
        "000_b9901c8c1c455724.txt",
        "001_f45d45220cbf9783.txt",
        "002_44d1e5d38125c694.txt",
        "003_eaf6fee32701ab9b.txt",
        "004_cc92b33e8c7677da.txt",
    ]
)


class Warmup:
    """Loads what the first answer needs, then the library's examples, off the page's path.

    ``answering`` is set once a question can be answered at full speed, ``drawn`` once
    `examples` holds the examples of the library as it is now.

    Args:
        assistant: the app's shared `Assistant`.
        sample_examples: the examples written for the bundled sample library.
    """

    def __init__(self, assistant: Assistant, sample_examples: Sequence[str] = SAMPLE_EXAMPLES):
        self.assistant = assistant
        self.sample_examples = list(sample_examples)
        self.answering = threading.Event()
        self.drawn = threading.Event()
        self._lock = threading.Lock()
        self._examples: list[str] = self.sample_examples if self.is_sample() else []
        self._started = False

    def start(self) -> None:
        """Start loading in a background thread (once; later calls do nothing)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="paperlens-warmup", daemon=True).start()

    @property
    def loading(self) -> bool:
        """Whether the first part (what answers need) is started and not yet done."""
        return self._started and not self.answering.is_set()

    def pending(self) -> list[threading.Event]:
        """The parts still to finish, in order (none when it was never started)."""
        return [e for e in (self.answering, self.drawn) if self._started and not e.is_set()]

    def redraw(self) -> None:
        """Draw the examples again (the library changed), in the background."""
        self.drawn.clear()
        threading.Thread(target=self._draw, name="paperlens-examples", daemon=True).start()

    def examples(self) -> list[str]:
        """The examples to show now (the sample's, or the library's once drawn)."""
        with self._lock:
            return list(self._examples)

    def is_sample(self) -> bool:
        """Whether the library is the bundled sample, read from its own pages only."""
        papers = self.assistant.papers().values()
        files = {Path(f).name for p in papers for f in p.sources}
        return bool(files) and files <= SAMPLE_PAGES

    def _run(self) -> None:
        try:
            bot = self.assistant.new_conversation()
            for question in WARM_UP_QUESTIONS:
                bot.ask(question, mode="extractive")
        except PaperLensError as exc:  # an empty library: nothing to load yet
            log.info("warm-up skipped: %s", exc)
        except Exception:  # the first real question will say what is wrong
            log.exception("warm-up failed")
        finally:
            self.answering.set()
        self._draw()

    def _draw(self) -> None:
        try:
            if self.is_sample():
                drawn = self.sample_examples
            elif self.assistant.stats().papers == 0:
                drawn = []
            else:
                drawn = example_questions(self.assistant.library_map(), self.assistant.papers())
            with self._lock:
                self._examples = drawn
        except Exception:  # the examples are a convenience: keep the ones shown
            log.exception("drawing the library's examples failed")
        finally:
            self.drawn.set()
