/* main.js: the wiring of the chat page, loaded by index.html as the one module. It owns the turns
 * on the page (paint / unpaint, one repaint per frame while streaming, keeping the top of a new
 * answer in view), the status line and the starters, sending a question (with the conversation's
 * scope as filters) and what happens when it is stopped, fails or is cut off by a reload;
 * regenerate and edit; copy and export; switching conversations; following another tab; and
 * where focus goes. The parts:
 *   api.js (the service), store.js (the conversations), render.js + richtext.js + dom.js (the
 *   nodes), composer.js (the question box), scope.js (what questions ask about), library.js,
 *   reader.js (a transcript, or a source inside it), chats.js (the saved list), panels.js
 *   (side panels and drawers), markdown.js (export), theme.js (dark / light).
 * Plain JS, no build step, no dependencies.
 */

import { UNREACHABLE, asApiError, ask, getHealth, getStarters } from "./api.js";
import { renderChats, setUpChats } from "./chats.js";
import * as composer from "./composer.js";
import { plural } from "./dom.js";
import { loadLibrary, renderLibrary, setUpLibrary, summaryOf, syncLibrary } from "./library.js";
import { answerMarkdown, conversationMarkdown, fileName } from "./markdown.js";
import { closeDrawer, isWide, setUpPanels } from "./panels.js";
import { closeReader, openSource, openTranscript, setGeneration, setUpReader } from "./reader.js";
import { renderAnswerBody, renderStarters, renderTurn } from "./render.js";
import { isTranscriptScoped, renderScope, setUpScope, toggleTranscript } from "./scope.js";
import * as store from "./store.js";
import { setUpTheme } from "./theme.js";

const $ = (id) => document.getElementById(id);
const els = {
  main: $("main"),
  status: $("status"),
  statusText: $("status-text"),
  newChat: $("new-chat"),
  exportBtn: $("export"),
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

let busy = null; // {controller, turn, userTurn, question, timer} while a request is in flight

/* ------------------------------------------------------------------ turns on the page */

const turnEls = new Map(); // turn id -> element
let userMoved = false; // the person scrolled while the answer was coming: leave the view alone

["wheel", "touchmove", "keydown"].forEach((type) => els.main.addEventListener(type, () => { if (busy) userMoved = true; }, { passive: true }));

/** Scroll down to show the newest content, but never past the top of `el` (an answer). */
function keepTopInView(el) {
  const m = els.main;
  const top = el.getBoundingClientRect().top - m.getBoundingClientRect().top + m.scrollTop - 12;
  m.scrollTop = Math.max(0, Math.min(m.scrollHeight - m.clientHeight, top));
}

function follow(turn) {
  const el = turnEls.get(turn.id);
  if (el && busy && busy.turn === turn && !userMoved) keepTopInView(el);
}

/** Insert or replace the element of one turn. */
function paint(turn) {
  const fresh = renderTurn(turn, actions);
  const old = turnEls.get(turn.id);
  if (old && old.isConnected) old.replaceWith(fresh);
  else els.conversation.append(fresh);
  turnEls.set(turn.id, fresh);
  updateEmptyState();
  markLast();
  follow(turn);
  return fresh;
}

function unpaint(turn) {
  const el = turnEls.get(turn.id);
  if (el) el.remove();
  turnEls.delete(turn.id);
  markLast();
}

function paintAll() {
  for (const el of turnEls.values()) el.remove();
  turnEls.clear();
  for (const t of store.allTurns()) paint(t);
  updateEmptyState();
  const answers = els.conversation.querySelectorAll(".msg.assistant");
  if (answers.length) keepTopInView(answers[answers.length - 1]);
  else els.main.scrollTop = els.main.scrollHeight;
}

function updateEmptyState() {
  const turns = store.allTurns();
  const empty = turns.length === 0;
  els.welcome.hidden = !empty;
  els.conversation.hidden = empty;
  els.exportBtn.disabled = !turns.some((t) => t.role === "assistant" && t.status === "done");
  if (empty) loadStarters();
}

/** Edit shows on the last question and Regenerate on the last answer, when nothing is being asked. */
function markLast() {
  const turns = store.allTurns();
  const last = turns[turns.length - 1];
  const before = turns[turns.length - 2];
  const answered = !busy && last && last.role === "assistant" && last.status === "done";
  for (const b of els.conversation.querySelectorAll(".edit-last, .regenerate")) {
    const id = b.closest("[data-turn]").dataset.turn;
    b.hidden = !(answered && (id === last.id || (before && id === before.id)));
  }
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
    follow(turn);
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
let knownTranscripts = null;

function setStatus(kind, text) {
  els.status.dataset.state = kind;
  els.statusText.textContent = text;
}

async function refreshHealth() {
  clearTimeout(healthTimer);
  try {
    const hl = await getHealth();
    healthFailures = 0;
    composer.setLimit(Number(hl.max_question_chars));
    store.setLimits(Number(hl.max_turns), Number(hl.max_conversation_chars));
    const mode = hl.answer_mode === "llm"
      ? `answers by ${hl.llm_model || "a language model"}`
      : hl.answer_mode === "extractive" ? "built-in answers (quotes, no LLM)" : `answers: ${hl.answer_mode}`;
    const counts = `${plural(Number(hl.transcripts) || 0, "transcript", "transcripts")} · ${plural(Number(hl.chunks) || 0, "passage", "passages")} indexed`;
    if (hl.status === "ok") {
      setStatus("ok", `${counts} · ${mode}`);
    } else {
      setStatus("degraded", `${counts} · ${mode} · The transcript store is not answering right now, so questions may fail.`);
    }
    // Transcripts added or removed while the page is open: the library looks again.
    if (knownTranscripts !== null && knownTranscripts !== hl.transcripts) loadLibrary(true);
    knownTranscripts = hl.transcripts;
    if (!store.allTurns().length) loadStarters();
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
  if (!on) composer.clearHint();
  markLast();
}

/** Drop the leftovers of failed attempts: a new question replaces them. */
function clearTransient() {
  store.dropTransient().forEach(unpaint);
}

const hasScope = (s) => Boolean(s && (s.transcripts.length || s.speakers.length));

/** Ask `text` (else what is in the box) within `scope` (else the conversation's). */
async function send(text, scope) {
  const fromBox = text === undefined;
  const question = (fromBox ? els.input.value : text).trim();
  if (!question) return;
  if (busy) {
    composer.refuseWhileBusy();
    return;
  }
  if (!composer.checkLength(question)) {
    if (!fromBox) composer.restoreInput(question);
    return;
  }
  clearTransient();
  const asked = JSON.parse(JSON.stringify(scope || store.current().scope));
  const userTurn = { id: store.newId(), role: "user", content: question, status: "sending", scope: hasScope(asked) ? asked : null };
  const turn = { id: store.newId(), role: "assistant", content: "", sources: [], citations: [], status: "streaming", asked: question, elapsed: 0 };
  const controller = new AbortController();
  const pending = ask(store.requestMessages(question), turn, controller.signal,
    { sources: paint, token: repaintSoon }, store.filtersOf(asked));
  const started = Date.now();
  const timer = setInterval(() => {
    turn.elapsed = Math.floor((Date.now() - started) / 1000);
    if (turn.elapsed >= 2 && turn.status === "streaming") repaintSoon(turn);
  }, 1000);
  busy = { controller, turn, userTurn, question, timer };
  userMoved = false;
  store.addTurns(userTurn, turn);
  store.setPending(question, asked);
  if (fromBox || els.input.value.trim() === question) composer.clearInput();
  setBusy(true);
  paint(userTurn);
  paint(turn);
  renderChats();
  announce("Searching the transcripts…");
  try {
    await pending;
    userTurn.status = "ok";
    turn.status = "done";
    paint(userTurn);
    busy.done = true;
    store.setPending(null);
    announce(turn.abstained ? `Not covered by the transcripts. ${turn.content}` : turn.content);
  } catch (err) {
    if (controller.signal.aborted) stopped(turn, userTurn, question);
    else failed(turn, userTurn, question, err);
  } finally {
    clearInterval(timer);
    const done = busy && busy.done;
    busy = null;
    setBusy(false);
    if (done) {
      const el = paint(turn);
      if (!userMoved) keepTopInView(el);
    }
    renderChats();
  }
}

function stopped(turn, userTurn, question) {
  if (turn.content.trim()) {
    userTurn.status = "ok";
    turn.status = "done";
    turn.stopped = true;
    paint(userTurn);
    paint(turn);
    store.setPending(null);
    announce("Stopped.");
    return;
  }
  // Nothing arrived: take the question back so it can be edited or sent again.
  store.removeTurns(turn, userTurn);
  unpaint(turn);
  unpaint(userTurn);
  composer.restoreInput(question);
  const notice = { id: store.newId(), role: "notice", kind: "stopped", title: "Stopped", text: "No answer was written. Your question is back in the box below." };
  store.addTurns(notice);
  paint(notice);
  store.setPending(null);
  announce("Stopped. Your question is back in the box.");
}

function failed(turn, userTurn, question, err) {
  store.removeTurns(turn);
  unpaint(turn);
  userTurn.status = "failed";
  paint(userTurn);
  composer.restoreInput(question);
  const apiErr = asApiError(err);
  const notice = {
    id: store.newId(),
    role: "notice",
    kind: "error",
    title: apiErr.title,
    text: `${apiErr.message} Your question is still in the box below.`,
    retry: apiErr.retryable ? question : null,
    retryScope: userTurn.scope,
  };
  store.addTurns(notice);
  paint(notice);
  if (apiErr.title === UNREACHABLE) refreshHealth();
  store.setPending(null);
}

function stop() {
  if (busy) busy.controller.abort();
}

/** A question that was in flight when the page went away: shown as interrupted, with Retry. */
function showInterrupted() {
  const p = store.current().pending;
  if (!p) return;
  const last = store.allTurns()[store.allTurns().length - 1];
  if (last && last.role === "user" && last.content === p.question) return;
  store.addTurns(
    { id: store.newId(), role: "user", content: p.question, status: "interrupted", scope: hasScope(p.scope) ? p.scope : null },
    { id: store.newId(), role: "notice", kind: "interrupted", title: "Interrupted",
      text: "The page was reloaded or closed before this question was answered.", retry: p.question, retryScope: p.scope },
  );
}

/* ------------------------------------------------------------------ regenerate, edit, copy, export */

function lastExchange() {
  const turns = store.allTurns();
  const answer = turns[turns.length - 1];
  const question = turns[turns.length - 2];
  return answer && question && answer.role === "assistant" && question.role === "user" ? { question, answer } : null;
}

function takeBack({ question, answer }) {
  store.removeTurns(question, answer);
  unpaint(question);
  unpaint(answer);
  store.save();
}

function regenerate() {
  const last = lastExchange();
  if (!last || busy) return;
  takeBack(last);
  send(last.question.content, last.question.scope || store.emptyScope());
}

function edit(turn) {
  turn.editing = true;
  const el = paint(turn);
  const box = el.querySelector("textarea");
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

function cancelEdit(turn) {
  turn.editing = false;
  paint(turn).querySelector(".edit-last")?.focus();
}

function submitEdit(turn, text) {
  const last = lastExchange();
  const question = text.trim();
  if (!question || !last || last.question !== turn || busy) return;
  if (!composer.checkLength(question)) return;
  turn.editing = false;
  takeBack(last);
  els.input.focus();
  send(question, turn.scope || store.emptyScope());
}

async function copy(turn, button) {
  const label = button.querySelector("span");
  try {
    await navigator.clipboard.writeText(answerMarkdown(turn));
    label.textContent = "Copied";
    announce("Copied the answer and its sources.");
  } catch {
    label.textContent = "Copy failed";
    announce("The answer could not be copied.");
  }
  setTimeout(() => { label.textContent = "Copy"; }, 1600);
}

function exportChat() {
  const chat = store.current();
  const blob = new Blob([conversationMarkdown(chat)], { type: "text/markdown;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName(chat);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  announce(`Exported “${chat.title || "this chat"}” as Markdown.`);
}

/** What the rendered nodes do when clicked. */
const actions = { openSource, send, regenerate, edit, cancelEdit, submitEdit, copy };

/* ------------------------------------------------------------------ conversations */

function showConversation() {
  closeReader();
  paintAll();
  renderScope();
  syncLibrary();
  renderChats();
}

function newChat() {
  stop();
  store.startNew();
  showConversation();
  closeDrawer();
  els.input.focus();
  announce("New chat started. Earlier chats are in the chat list.");
}

function openChat(id) {
  if (id !== store.current().id) {
    stop();
    if (!store.open(id)) return;
    showInterrupted();
    showConversation();
  }
  closeDrawer();
  els.input.focus();
  announce(`Opened “${store.current().title || "chat"}”.`);
}

// Another tab changed a conversation: the list follows, and so does this one when it is shown here.
window.addEventListener("storage", (ev) => {
  if (!ev.key || !ev.key.startsWith(store.CHAT_PREFIX)) return;
  renderChats();
  if (ev.key !== store.CHAT_PREFIX + store.current().id || busy || ev.newValue === null) return;
  store.reloadCurrent();
  showConversation();
});

/* ------------------------------------------------------------------ start */

setUpTheme($("theme"), announce);
setUpScope({ announce, changed: syncLibrary });
setUpLibrary({
  read: (t, opener) => {
    if (!isWide()) closeDrawer();
    openTranscript(t.id, t.title, isWide() ? opener : $("library-toggle"));
  },
  generation: setGeneration,
});
setUpReader({ isScoped: isTranscriptScoped, toggleScope: toggleTranscript, summary: summaryOf, announce });
setUpChats({ open: openChat, removedCurrent: () => { store.startNew(); showConversation(); }, announce });
setUpPanels({ library: () => { loadLibrary().then(renderLibrary); }, chats: renderChats });
composer.setUpComposer({ send: () => send(), stop, busy: () => Boolean(busy), announce });
els.stop.addEventListener("click", stop);
els.newChat.addEventListener("click", newChat);
els.exportBtn.addEventListener("click", exportChat);

store.restoreTab();
showInterrupted();
showConversation();
refreshHealth();
if (!matchMedia("(pointer: coarse)").matches) els.input.focus();
