/* thread.js: the turns on the page. It owns painting and unpainting a turn, one repaint per frame
 * while an answer streams, keeping the top of a new answer in view while it grows and when it is
 * done (unless the person scrolled meanwhile), Edit on the last question and Regenerate on the last
 * answer only, the empty state (the welcome and the starters), and the screen-reader announcer.
 */

import { renderAnswerBody, renderTurn } from "./render.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const els = {
  main: $("main"),
  welcome: $("welcome"),
  conversation: $("conversation"),
  exportBtn: $("export"),
  announcer: $("announcer"),
};
let hooks = { actions: {}, busy: () => null, empty: () => {} };

const turnEls = new Map(); // turn id -> element
let userMoved = false; // the person scrolled while the answer was coming: leave the view alone
// The page's last scroll, done again when the conversation's box changes size (the status line
// wraps, the chips come and go, a phone's keyboard opens) until the person scrolls themselves.
let anchor = null;

["wheel", "touchmove", "keydown"].forEach((type) => els.main.addEventListener(type, () => {
  anchor = null;
  if (hooks.busy()) userMoved = true;
}, { passive: true }));
new ResizeObserver(() => { if (anchor) anchor(); }).observe(els.main);

function scrollTo(place) {
  anchor = place;
  place();
}

/** A new question: follow its answer again. */
export function resetFollow() {
  userMoved = false;
}

/** Scroll down to show the newest content, but never past the top of `el` (an answer); the
 * question above it stays in view too when it is short. */
export function keepTopInView(el) {
  scrollTo(() => {
    if (!el.isConnected) return;
    const m = els.main;
    const asked = el.previousElementSibling;
    const top = asked && asked.matches(".msg.user") && asked.offsetHeight < m.clientHeight * 0.3 ? asked : el;
    const y = top.getBoundingClientRect().top - m.getBoundingClientRect().top + m.scrollTop - 12;
    m.scrollTop = Math.max(0, Math.min(m.scrollHeight - m.clientHeight, y));
  });
}

function follow(turn) {
  const el = turnEls.get(turn.id);
  const busy = hooks.busy();
  if (el && busy && busy.turn === turn && !userMoved) keepTopInView(el);
}

/** The finished answer's element: its top in view, unless the person scrolled while it came. */
export function reveal(el) {
  if (!userMoved) keepTopInView(el);
}

/** Insert or replace the element of one turn. */
export function paint(turn) {
  const fresh = renderTurn(turn, hooks.actions);
  const old = turnEls.get(turn.id);
  if (old && old.isConnected) old.replaceWith(fresh);
  else els.conversation.append(fresh);
  turnEls.set(turn.id, fresh);
  updateEmptyState();
  markLast();
  follow(turn);
  return fresh;
}

export function unpaint(turn) {
  const el = turnEls.get(turn.id);
  if (el) el.remove();
  turnEls.delete(turn.id);
  markLast();
}

export function paintAll() {
  for (const el of turnEls.values()) el.remove();
  turnEls.clear();
  for (const t of store.allTurns()) paint(t);
  updateEmptyState();
  // The last answer from its top; a notice after it (an interrupted question) at the bottom.
  const last = els.conversation.lastElementChild;
  if (last && last.matches(".msg.assistant")) keepTopInView(last);
  else scrollTo(() => { els.main.scrollTop = els.main.scrollHeight; });
}

function updateEmptyState() {
  const turns = store.allTurns();
  const empty = turns.length === 0;
  els.welcome.hidden = !empty;
  els.conversation.hidden = empty;
  els.exportBtn.disabled = !turns.some((t) => t.role === "assistant" && t.status === "done");
  if (empty) hooks.empty();
}

/** Edit shows on the last question and Regenerate on the last answer, when nothing is being asked. */
export function markLast() {
  const turns = store.allTurns();
  const last = turns[turns.length - 1];
  const before = turns[turns.length - 2];
  const answered = !hooks.busy() && last && last.role === "assistant" && last.status === "done";
  for (const b of els.conversation.querySelectorAll(".edit-last, .regenerate")) {
    const id = b.closest("[data-turn]").dataset.turn;
    b.hidden = !(answered && (id === last.id || (before && id === before.id)));
  }
}

/* Streaming repaints are batched to one per animation frame. */
let pendingFrame = 0;
export function repaintSoon(turn) {
  if (pendingFrame) return;
  pendingFrame = requestAnimationFrame(() => {
    pendingFrame = 0;
    const el = turnEls.get(turn.id);
    if (!el) return;
    const body = el.querySelector(".answer-text");
    if (body) body.replaceWith(renderAnswerBody(turn, hooks.actions));
    el.dataset.tokenEvents = String(turn.tokenEvents || 0);
    follow(turn);
  });
}

export function announce(text) {
  els.announcer.textContent = "";
  // A fresh node after a tick makes screen readers announce it even when the text repeats.
  setTimeout(() => { els.announcer.textContent = text; }, 50);
}

/** Wire the thread (once, at start): `given` = {actions, busy() (the request in flight or null), empty()}. */
export function setUpThread(given) {
  hooks = { ...hooks, ...given };
}
