/* main.js: the wiring of the chat page, loaded by index.html as the one module. It owns the turns
 * on the page (paint / unpaint, one repaint per frame while streaming, following the bottom), the
 * status line and the starters, sending a question and what happens when it is stopped or fails,
 * the composer (Enter sends, Shift+Enter adds a line, Escape stops, it grows with its text), New
 * chat, following another tab, and where focus goes. It imports the rest:
 *   api.js (the service), store.js (the conversation and its storage), render.js (the nodes),
 *   dialog.js (the passage dialog).
 * Plain JS, no build step, no dependencies.
 */

import { UNREACHABLE, asApiError, ask, getHealth, getStarters } from "./api.js";
import { closePassage, openPassage, setUpPassageDialog } from "./dialog.js";
import { plural, renderAnswerBody, renderStarters, renderTurn } from "./render.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const els = {
  main: $("main"),
  status: $("status"),
  statusText: $("status-text"),
  newChat: $("new-chat"),
  welcome: $("welcome"),
  startersBlock: $("starters-block"),
  starters: $("starters"),
  conversation: $("conversation"),
  form: $("composer"),
  input: $("question"),
  send: $("send"),
  stop: $("stop"),
  announcer: $("announcer"),
};

/** What the rendered nodes do when clicked. */
const actions = { openPassage, send };

let busy = null; // {controller, turn, userTurn, question} while a request is in flight

/* ------------------------------------------------------------------ turns on the page */

const turnEls = new Map(); // turn id -> element

function nearBottom() {
  const m = els.main;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
}
function scrollToBottom(force) {
  if (force || stick) els.main.scrollTop = els.main.scrollHeight;
}
let stick = true;
els.main.addEventListener("scroll", () => { stick = nearBottom(); }, { passive: true });

/** Insert or replace the element of one turn, keeping focus if it was inside (e.g. a citation). */
function paint(turn) {
  const fresh = renderTurn(turn, actions);
  const old = turnEls.get(turn.id);
  if (old && old.isConnected) old.replaceWith(fresh);
  else els.conversation.append(fresh);
  turnEls.set(turn.id, fresh);
  updateEmptyState();
  scrollToBottom(false);
  return fresh;
}

function unpaint(turn) {
  const el = turnEls.get(turn.id);
  if (el) el.remove();
  turnEls.delete(turn.id);
}

function paintAll() {
  for (const el of turnEls.values()) el.remove();
  turnEls.clear();
  for (const t of store.allTurns()) paint(t);
  updateEmptyState();
  scrollToBottom(true);
}

function updateEmptyState() {
  const empty = store.allTurns().length === 0;
  els.welcome.hidden = !empty;
  els.conversation.hidden = empty;
  if (empty) loadStarters();
}

/* Streaming repaints are batched to one per animation frame. */
let pendingFrame = 0;
function repaintSoon(turn) {
  if (pendingFrame) return;
  pendingFrame = requestAnimationFrame(() => {
    pendingFrame = 0;
    const el = turnEls.get(turn.id);
    if (!el) return;
    const body = el.querySelector(".answer-text");
    if (body) body.replaceWith(renderAnswerBody(turn, actions));
    el.dataset.tokenEvents = String(turn.tokenEvents || 0);
    scrollToBottom(false);
  });
}

function announce(text) {
  els.announcer.textContent = "";
  // A fresh node after a tick makes screen readers announce it even when the text repeats.
  setTimeout(() => { els.announcer.textContent = text; }, 50);
}

/* ------------------------------------------------------------------ status line and starters */

let healthTimer = 0;
let healthFailures = 0;

function setStatus(kind, text) {
  els.status.dataset.state = kind;
  els.statusText.textContent = text;
}

async function refreshHealth() {
  clearTimeout(healthTimer);
  try {
    const hl = await getHealth();
    healthFailures = 0;
    const mode = hl.answer_mode === "llm"
      ? `answers by ${hl.llm_model || "a language model"}`
      : hl.answer_mode === "extractive" ? "built-in answers (quotes, no LLM)" : `answers: ${hl.answer_mode}`;
    const counts = `${plural(Number(hl.transcripts) || 0, "transcript", "transcripts")} · ${plural(Number(hl.chunks) || 0, "passage", "passages")} indexed`;
    if (hl.status === "ok") {
      setStatus("ok", `${counts} · ${mode}`);
    } else {
      setStatus("degraded", `${counts} · ${mode} · The transcript store is not answering right now, so questions may fail.`);
    }
    if (!store.allTurns().length) loadStarters();
    // Counts change when transcripts are added while the service runs: look again now and then.
    healthTimer = setTimeout(refreshHealth, hl.status === "ok" ? 60000 : 10000);
    return true;
  } catch {
    healthFailures++;
    setStatus("down", "Can’t reach the service. Retrying…");
    healthTimer = setTimeout(refreshHealth, Math.min(30000, 3000 * healthFailures));
    return false;
  }
}

let startersState = "none"; // none | loading | loaded
async function loadStarters() {
  if (startersState !== "none") return;
  startersState = "loading";
  try {
    const list = await getStarters(4);
    els.starters.replaceChildren(...renderStarters(list, actions));
    els.startersBlock.hidden = list.length === 0;
    startersState = "loaded";
  } catch {
    startersState = "none"; // try again with the next successful health check
  }
}

/* ------------------------------------------------------------------ sending */

function setBusy(on) {
  els.send.hidden = on;
  els.stop.hidden = !on;
  els.form.classList.toggle("busy", on);
  if (on && document.activeElement === els.send) els.input.focus();
  if (!on && document.activeElement === els.stop) els.input.focus();
}

/** Drop the leftovers of failed attempts: a new question replaces them. */
function clearTransient() {
  store.dropTransient().forEach(unpaint);
}

function restoreInput(question) {
  if (!els.input.value.trim()) {
    els.input.value = question;
    autoGrow();
  }
}

async function send(text) {
  const question = (text ?? els.input.value).trim();
  if (!question || busy) return;
  clearTransient();
  const userTurn = { id: store.newId(), role: "user", content: question, status: "ok" };
  const turn = { id: store.newId(), role: "assistant", content: "", sources: [], citations: [], status: "streaming" };
  const controller = new AbortController();
  const pending = ask(store.requestMessages(question), turn, controller.signal, { sources: paint, token: repaintSoon });
  busy = { controller, turn, userTurn, question };
  store.addTurns(userTurn, turn);
  if (text === undefined || els.input.value.trim() === question) {
    els.input.value = "";
    autoGrow();
  }
  setBusy(true);
  stick = true;
  paint(userTurn);
  paint(turn);
  scrollToBottom(true);
  try {
    await pending;
    turn.status = "done";
    paint(turn);
    store.save();
    announce(turn.abstained ? `Not covered by the transcripts. ${turn.content}` : turn.content);
  } catch (err) {
    if (controller.signal.aborted) {
      stopped(turn, userTurn, question);
    } else {
      failed(turn, userTurn, question, err);
    }
  } finally {
    busy = null;
    setBusy(false);
  }
}

function stopped(turn, userTurn, question) {
  if (turn.content.trim()) {
    turn.status = "done";
    turn.stopped = true;
    paint(turn);
    store.save();
    announce("Stopped.");
    return;
  }
  // Nothing arrived: take the question back so it can be edited or sent again.
  store.removeTurns(turn, userTurn);
  unpaint(turn);
  unpaint(userTurn);
  restoreInput(question);
  const notice = { id: store.newId(), role: "notice", kind: "stopped", title: "Stopped", text: "No answer was written. Your question is back in the box below." };
  store.addTurns(notice);
  paint(notice);
}

function failed(turn, userTurn, question, err) {
  store.removeTurns(turn);
  unpaint(turn);
  userTurn.status = "failed";
  paint(userTurn);
  restoreInput(question);
  const apiErr = asApiError(err);
  const notice = {
    id: store.newId(),
    role: "notice",
    kind: "error",
    title: apiErr.title,
    text: `${apiErr.message} Your question is still in the box below.`,
    retry: apiErr.retryable ? question : null,
  };
  store.addTurns(notice);
  paint(notice);
  if (apiErr.title === UNREACHABLE) refreshHealth();
  store.save();
}

function stop() {
  if (busy) busy.controller.abort();
}

function newChat() {
  stop();
  closePassage();
  store.clearTurns();
  store.save();
  paintAll();
  els.input.focus();
  announce("New chat started.");
}

/* ------------------------------------------------------------------ composer */

function autoGrow() {
  const ta = els.input;
  ta.style.height = "auto";
  const max = Math.max(120, Math.floor(window.innerHeight * 0.4));
  ta.style.height = `${Math.min(ta.scrollHeight + 2, max)}px`;
  ta.classList.toggle("scrolls", ta.scrollHeight + 2 > max);
}

setUpPassageDialog();
els.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  send();
});
els.input.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
    ev.preventDefault();
    send();
  } else if (ev.key === "Escape" && busy) {
    ev.preventDefault();
    stop();
  }
});
els.input.addEventListener("input", autoGrow);
window.addEventListener("resize", autoGrow);
els.stop.addEventListener("click", stop);
els.newChat.addEventListener("click", newChat);

// Another tab changed the conversation: follow it when idle.
window.addEventListener("storage", (ev) => {
  if (ev.key !== store.STORAGE_KEY || busy) return;
  store.reload();
  paintAll();
});

/* ------------------------------------------------------------------ start */

store.reload();
paintAll();
autoGrow();
refreshHealth();
if (!matchMedia("(pointer: coarse)").matches) els.input.focus();
