"""Stop: the answer ends itself, instead of being cancelled by Gradio (``cancels=``).

Gradio 6.31 completes a cancelled event with an empty result, which its page fails to read;
the failure marks the event's outputs as failed and, when it lands after the cancel's own
"complete", it stays. The Chatbot draws a failed status as a full overlay, whatever
``show_progress`` says: a layer over the whole chat, marked "Error", that swallows every click
(Retry, Copy, the ``[n]`` links) until the next answer. The Stop browser test lost its
Retry click to it in 2 of 10 runs on a loaded machine. So Stop here only counts:

- the page counts the presses of Stop in a hidden number (:data:`PRESS`, at once, in the
  browser), and an answer is asked with the count as it was then: its ticket;
- each press is then told to the session's :class:`Halt`; the answer asks it at each step
  (:func:`ui.chat.respond`) and, told of a press after its ticket, closes the model's stream
  and ends as stopped, its draft kept; an answer stopped while it waited for a free worker
  never starts. A press when nothing runs stops nothing: the next answer's ticket counts it.

>>> halt = Halt()
>>> halt.hear(1)
>>> halt.pressed_since(0), halt.pressed_since(1)
(True, False)
"""

from __future__ import annotations

from typing import Any

PRESS = "(presses) => (presses || 0) + 1"  # the page's count of Stop presses, in the browser


class Halt:
    """The Stop presses of one browser session that the server has heard of (a ``gr.State``).

    Presses are told in any order (each in its own request): the count only grows.
    """

    def __init__(self) -> None:
        self.heard = 0

    def hear(self, presses: Any) -> None:
        """The page has counted ``presses`` presses of Stop so far."""
        self.heard = max(self.heard, int(presses or 0))

    def pressed_since(self, ticket: Any) -> bool:
        """Whether Stop was pressed after the answer holding ``ticket`` was asked."""
        return self.heard > int(ticket or 0)
