"""The chat's look and its one page script: CSS, the [n]-link script, the theme."""

from __future__ import annotations

import gradio as gr

CSS = """
#chat { height: max(280px, calc(100dvh - 330px)) !important; }
.rag-sources summary, .rag-searched summary { cursor: pointer; font-weight: 600; margin-top: .5em; }
.rag-source { border-left: 3px solid var(--color-accent); padding: .3em .7em; margin: .5em 0;
              border-radius: var(--radius-sm); scroll-margin: 4em; }
.rag-searched .rag-source { border-left-color: var(--border-color-primary); }
.rag-source-file { font-size: .85em; }
.rag-passage { font-size: .9em; margin-top: .3em; }
.rag-passage mark { background: var(--color-accent-soft); color: var(--body-text-color);
                    box-shadow: inset 0 -2px var(--color-accent); padding: 0 .1em; }
.rag-source:target, .rag-source.rag-flash { outline: 2px solid var(--color-accent);
                                           background: var(--background-fill-secondary); }
a.rag-cite { text-decoration: none; font-weight: 600; color: var(--link-text-color); }
a.rag-cite:hover, a.rag-cite:focus { text-decoration: underline; }
@media (max-width: 640px) { .rag-intro p { display: none; } }
"""
# [n] links: open the folded list holding the card, scroll to it, flash it. On phones the
# cited sources start folded (the answer text first); a card opened by [n] stays open.
JS = """
() => {
  const phone = matchMedia("(max-width: 640px)");
  new MutationObserver(() => {
    if (!phone.matches) return;
    for (const list of document.querySelectorAll("details.rag-sources[open]:not([data-seen])")) {
      list.open = false;
      list.dataset.seen = "1";
    }
  }).observe(document.body, { childList: true, subtree: true });
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.rag-cite");
    const card = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!card) return;
    event.preventDefault();
    for (let list = card.closest("details"); list; list = list.parentElement.closest("details"))
      list.open = true;
    card.scrollIntoView({ behavior: "smooth", block: "center" });
    card.focus({ preventScroll: true });
    card.classList.add("rag-flash");
    setTimeout(() => card.classList.remove("rag-flash"), 2500);
  });
}
"""
# System fonts only: the default theme would fetch Google Fonts, and we run offline.
# Light mode's indigo and grey text are a shade darker than Soft's, for a 4.5:1 contrast (axe).
THEME = gr.themes.Soft(
    font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
).set(
    button_primary_background_fill="*primary_600",
    button_primary_background_fill_hover="*primary_700",
    block_title_text_color="*primary_700",
    block_label_text_color="*primary_700",
    block_info_text_color="*neutral_600",
    body_text_color_subdued="*neutral_600",
    body_text_color_subdued_dark="*neutral_300",  # an empty dropdown's text on dark grey (axe)
    link_text_color="*primary_700",  # a bot message is drawn at 80% opacity
)
