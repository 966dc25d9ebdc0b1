/* asking.js: asking a question. It owns sending (with the conversation's scope as filters), the
 * elapsed time of a slow request, what happens when it is stopped, fails or was cut off by a reload
 * (shown as interrupted, with Retry), Regenerate and Edit of the last exchange, and Copy (the answer
 * with its sources, as Markdown).
 */

import { UNREACHABLE, asApiError, ask } from "./api.js";
import { saveQuote } from "./board.js";
import * as composer from "./composer.js";
import { answerMarkdown } from "./markdown.js";
import { openSource } from "./reader.js";
import * as store from "./store.js";
import { announce, markLast, paint, repaintSoon, resetFollow, reveal, unpaint } from "./thread.js";

const $ = (id) => document.getElementById(id);
const els = { form: $("composer"), input: $("question"), send: $("send"), stop: $("stop") };

let busy = null; // {controller, turn, userTurn, question, timer} while a request is in flight
let hooks = { unreachable: () => {}, settled: () => {} };

/** The request in flight, or null. */
export const inFlight = () => busy;

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
export async function send(text, scope, exclude = null) {
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
  const turn = { id: store.newId(), role: "assistant", content: "", sources: [], citations: [], status: "streaming", asked: question, elapsed: 0,
    excluded: exclude || [] };
  const controller = new AbortController();
  // Another conversation opened meanwhile (which stops this request): this one keeps the question
  // as in flight, offered again as interrupted when it is opened; nothing lands in the other.
  const chat = store.current();
  const mine = () => store.current() === chat;
  const pending = ask(store.requestMessages(question), turn, controller.signal,
    { sources: (t) => mine() && paint(t), token: (t) => mine() && repaintSoon(t) }, store.filtersOf(asked), exclude);
  const started = Date.now();
  const timer = setInterval(() => {
    turn.elapsed = Math.floor((Date.now() - started) / 1000);
    if (turn.elapsed >= 2 && turn.status === "streaming") repaintSoon(turn);
  }, 1000);
  busy = { controller, turn, userTurn, question, timer };
  resetFollow();
  store.addTurns(userTurn, turn);
  store.setPending(question, asked);
  if (fromBox || els.input.value.trim() === question) composer.clearInput();
  setBusy(true);
  paint(userTurn);
  paint(turn);
  hooks.settled();
  announce("Searching the transcripts…");
  try {
    await pending;
    if (!mine()) return;
    userTurn.status = "ok";
    turn.status = "done";
    paint(userTurn);
    busy.done = true;
    store.setPending(null);
    announce(turn.abstained ? `Not covered by the transcripts. ${turn.content}` : turn.content);
  } catch (err) {
    if (!mine()) return;
    if (controller.signal.aborted) stopped(turn, userTurn, question);
    else failed(turn, userTurn, question, err);
  } finally {
    clearInterval(timer);
    const done = busy && busy.done;
    busy = null;
    setBusy(false);
    if (done && mine()) reveal(paint(turn));
    hooks.settled();
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
  if (apiErr.title === UNREACHABLE) hooks.unreachable();
  store.setPending(null);
}

export function stop() {
  if (busy) busy.controller.abort();
}

/** A question that was in flight when the page went away: shown as interrupted, with Retry. */
export function showInterrupted() {
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

/* ------------------------------------------------------------------ regenerate, edit, copy */

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

/** Ask the last question again. A built-in answer is the same every time, so another one is
 * asked for: not from the passages it (and any answer it replaced) quoted; the service says
 * beforehand whether there is one (`alternatives`: false, and no Regenerate is offered). */
function regenerate() {
  const last = lastExchange();
  if (!last || busy) return;
  const { answer } = last;
  const exclude = answer.mode === "extractive" && !answer.abstained
    ? [...new Set([...(answer.excluded || []), ...answer.sources.filter((s) => answer.citations.includes(s.n)).map((s) => s.id)])]
    : null;
  takeBack(last);
  send(last.question.content, last.question.scope || store.emptyScope(), exclude);
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
/** What the rendered nodes do when clicked. */
export const actions = { openSource, send, regenerate, edit, cancelEdit, submitEdit, copy, saveQuote };

/** Wire Stop (once, at start); `given` = {unreachable() (check the service), settled() (the list follows)}. */
export function setUpAsking(given) {
  hooks = { ...hooks, ...given };
  els.stop.addEventListener("click", stop);
}
