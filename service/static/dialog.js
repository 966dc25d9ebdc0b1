/* dialog.js: the passage dialog (#passage). It owns which source of which answer is open, opening
 * it from a citation or a source card, Previous / Next, closing (button, backdrop, Escape), Tab
 * kept inside while it is open, and focus back on the button that opened it. What it shows is
 * built by render.js (renderPassage).
 */

import { renderPassage } from "./render.js";

const $ = (id) => document.getElementById(id);
const els = {
  dialog: $("passage"),
  kicker: $("passage-kicker"),
  title: $("passage-title"),
  body: $("passage-body"),
  close: $("passage-close"),
  prev: $("passage-prev"),
  next: $("passage-next"),
};

let dialogState = null; // {turn, n, opener}

function fillPassage() {
  const { turn, n } = dialogState;
  const index = turn.sources.findIndex((s) => s.n === n);
  const { kicker, title, body } = renderPassage(turn, turn.sources[index]);
  els.kicker.textContent = kicker;
  els.title.textContent = title;
  els.body.replaceChildren(...body);
  els.prev.disabled = index <= 0;
  els.next.disabled = index >= turn.sources.length - 1;
}

/** Show source `n` of `turn`; focus returns to `opener` when the dialog closes. */
export function openPassage(turn, n, opener) {
  if (!turn.sources.some((s) => s.n === n)) return;
  dialogState = { turn, n, opener };
  fillPassage();
  if (!els.dialog.open) els.dialog.showModal();
  els.body.scrollTop = 0;
  els.close.focus();
}

export function closePassage() {
  if (els.dialog.open) els.dialog.close();
}

function stepPassage(delta) {
  if (!dialogState) return;
  const { turn } = dialogState;
  const index = turn.sources.findIndex((s) => s.n === dialogState.n) + delta;
  if (index < 0 || index >= turn.sources.length) return;
  dialogState.n = turn.sources[index].n;
  fillPassage();
  (delta < 0 ? (els.prev.disabled ? els.next : els.prev) : (els.next.disabled ? els.prev : els.next)).focus();
}

/** Attach the dialog's own controls and keys (once, at start). */
export function setUpPassageDialog() {
  els.close.addEventListener("click", () => els.dialog.close());
  els.prev.addEventListener("click", () => stepPassage(-1));
  els.next.addEventListener("click", () => stepPassage(1));
  els.dialog.addEventListener("click", (ev) => { if (ev.target === els.dialog) els.dialog.close(); });
  // Keep Tab inside the open dialog: past the last control it comes back to the first.
  els.dialog.addEventListener("keydown", (ev) => {
    if (ev.key !== "Tab") return;
    const stops = [...els.dialog.querySelectorAll("button, a[href], [tabindex]:not([tabindex='-1'])")]
      .filter((el) => !el.disabled && el.getClientRects().length);
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    if (ev.shiftKey && (document.activeElement === first || !els.dialog.contains(document.activeElement))) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && document.activeElement === last) {
      ev.preventDefault();
      first.focus();
    }
  });
  els.dialog.addEventListener("close", () => {
    const opener = dialogState && dialogState.opener;
    dialogState = null;
    if (opener && opener.isConnected) opener.focus();
  });
}
