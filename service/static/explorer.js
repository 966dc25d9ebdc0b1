/* explorer.js: the topic explorer (POST /v1/topics), a dialog opened from the library. Type a
 * topic: a table of speakers (rows) × transcripts (columns), the most about it first; each cell is
 * the number of that speaker's turns on it in that transcript and opens the best of them in the
 * reader. A speaker's "Track" lists their statements on the topic across the transcripts, in
 * order, each opening in the reader. Nothing here ranks anything: the service does.
 */

import { postTopics } from "./api.js";
import { h, plural } from "./dom.js";

const COLUMNS = 8; // transcripts shown as columns (the most about the topic); the rest are counted
const ROWS = 12; // speakers shown as rows

const $ = (id) => document.getElementById(id);
const els = {
  dialog: $("explorer"),
  open: $("explore-open"),
  close: $("explorer-close"),
  form: $("explorer-form"),
  topic: $("explorer-topic"),
  status: $("explorer-status"),
  body: $("explorer-body"),
};

let hooks = { openQuote: () => {}, announce: () => {} };
let asked = 0; // the newest request: an older one that returns late is dropped
let controller = null;

const titleOf = (g) => g.title || g.transcript;

/** One quote as a source the reader can open (kicker: what the reader says it is). */
function asSource(q, kicker) {
  return {
    kicker,
    citations: [],
    sources: [{
      n: 1, transcript: q.transcript, title: q.title, speaker: q.speaker, speakers: [q.speaker], turn: q.turn,
      first_turn: q.turn, last_turn: q.turn, timestamp: q.timestamp || "", text: q.text, quotes: [q.text], media_url: "",
    }],
  };
}

function openButton(q, text, label, kicker, cls) {
  return h("button", {
    type: "button", class: cls, "aria-label": label, title: q.text,
    onclick: (ev) => hooks.openQuote(asSource(q, kicker), ev.currentTarget),
  }, text);
}

function table(result, topic) {
  const columns = result.transcripts.slice(0, COLUMNS);
  const rows = result.speakers.filter((s) => s.speaker).slice(0, ROWS);
  const cell = new Map(result.cells.map((c) => [`${c.transcript}\u0000${c.speaker}`, c]));
  const head = h("tr", null, h("th", { scope: "col" }, "Speaker"),
    ...columns.map((t) => h("th", { scope: "col" }, h("span", { class: "topic-col" }, titleOf(t)),
      h("span", { class: "topic-count" }, plural(t.turns, "turn", "turns")))));
  const body = rows.map((s) => h("tr", null,
    h("th", { scope: "row" },
      h("span", { class: "topic-speaker" }, s.speaker),
      h("span", { class: "topic-count" }, `${plural(s.turns, "turn", "turns")}`),
      h("button", {
        type: "button", class: "btn btn-small btn-ghost topic-track", "aria-label": `Track ${s.speaker} on this topic`,
        onclick: (ev) => track(topic, s.speaker, ev.currentTarget),
      }, "Track")),
    ...columns.map((t) => {
      const c = cell.get(`${t.transcript}\u0000${s.speaker}`);
      if (!c) return h("td", { class: "topic-none" }, h("span", { "aria-hidden": "true" }, "·"),
        h("span", { class: "visually-hidden" }, "none"));
      return h("td", null, openButton(c.quote, String(c.turns),
        `${c.turns} ${c.turns === 1 ? "turn" : "turns"} by ${s.speaker} in ${titleOf(t)}: open the best quote`,
        `${s.speaker} on “${topic}” · ${plural(c.turns, "turn", "turns")} in this transcript`, "btn btn-small topic-cell"));
    })));
  return h("table", { class: "topic-map" },
    h("caption", null, `Turns on “${topic}” by speaker and transcript, the most first. A number opens the best quote.`),
    h("thead", null, head), h("tbody", null, ...body));
}

function bestPerTranscript(result, topic) {
  return h("section", { class: "topic-best", "aria-labelledby": "topic-best-title" },
    h("h3", { id: "topic-best-title" }, "The best quote of each transcript"),
    h("ol", null, ...result.transcripts.slice(0, COLUMNS).map((t) => h("li", null,
      h("p", { class: "topic-where" }, `${titleOf(t)} · ${t.quote.speaker || "Unnamed speaker"}`),
      h("blockquote", null, t.quote.text),
      openButton(t.quote, "Open", `Open the quote in ${titleOf(t)}`, `Best quote on “${topic}” in this transcript`,
        "btn btn-small btn-ghost")))));
}

async function track(topic, speaker, opener) {
  const token = ++asked;
  const old = els.body.querySelector(".topic-trackview");
  if (old) old.remove();
  els.status.textContent = `Finding what ${speaker} said on “${topic}”…`;
  try {
    const result = await postTopics(topic, speaker);
    if (token !== asked) return;
    const items = (result.track || []).map((q, i) => h("li", null,
      h("p", { class: "topic-where" }, `${q.title || q.transcript} · turn ${q.turn}${q.timestamp ? ` · ${q.timestamp}` : ""}`),
      h("blockquote", null, q.text),
      h("button", {
        type: "button", class: "btn btn-small btn-ghost", "aria-label": `Open statement ${i + 1} in ${q.title || q.transcript}`,
        onclick: (ev) => hooks.openQuote(asSource(q, `${speaker} on “${topic}” · statement ${i + 1} of ${result.track.length}`), ev.currentTarget),
      }, "Open")));
    const view = h("section", { class: "topic-trackview", "aria-labelledby": "topic-track-title", tabindex: "-1" },
      h("h3", { id: "topic-track-title" }, `${speaker} on “${topic}”, in the transcripts’ order`),
      items.length ? h("ol", null, ...items) : h("p", null, `${speaker} says nothing on it.`));
    els.body.prepend(view);
    els.status.textContent = `${plural(items.length, "statement", "statements")} by ${speaker} on “${topic}”.`;
    view.focus();
  } catch (err) {
    if (token !== asked) return;
    els.status.textContent = `The track could not be made: ${err.message}`;
    if (opener.isConnected) opener.focus();
  }
}

async function explore(ev) {
  ev.preventDefault();
  const topic = els.topic.value.trim();
  if (!topic) {
    els.status.textContent = "Type a topic first, for example a few words someone might have said.";
    els.topic.focus();
    return;
  }
  const token = ++asked;
  if (controller) controller.abort();
  controller = new AbortController();
  els.status.textContent = `Looking for “${topic}” across the transcripts…`;
  els.body.replaceChildren();
  els.body.dataset.state = "loading";
  try {
    const result = await postTopics(topic, null, controller.signal);
    if (token !== asked) return;
    if (!result.found) {
      els.body.dataset.state = "empty";
      els.status.textContent = `The transcripts do not talk about “${topic}”.`;
      return;
    }
    const more = result.transcripts.length - COLUMNS;
    els.status.textContent = `${plural(result.turns, "turn", "turns")} on “${topic}” in ${plural(result.transcripts.length, "transcript", "transcripts")}, `
      + `by ${plural(result.speakers.length, "speaker", "speakers")}${more > 0 ? `; the ${COLUMNS} most about it are shown` : ""}.`;
    els.body.replaceChildren(h("div", { class: "topic-scroll" }, table(result, topic)), bestPerTranscript(result, topic));
    els.body.dataset.state = "map";
  } catch (err) {
    if (token !== asked || (controller && controller.signal.aborted && err.name === "AbortError")) return;
    els.body.dataset.state = "error";
    els.status.textContent = `The topic could not be explored: ${err.message}`;
  }
}

/** Wire the explorer (once, at start); `given`: {openQuote(turnLike, opener), announce(text)}. */
export function setUpExplorer(given) {
  hooks = { ...hooks, ...given };
  els.open.addEventListener("click", () => {
    if (!els.dialog.open) els.dialog.showModal();
    els.topic.focus();
  });
  els.close.addEventListener("click", () => els.dialog.close());
  els.form.addEventListener("submit", explore);
  els.dialog.addEventListener("close", () => {
    if (els.open.isConnected) els.open.focus();
  });
}
