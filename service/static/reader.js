/* reader.js: the transcript reader (#reader). It owns reading a transcript as a conversation
 * (speakers, roles, timestamps, an interview's questions, turns), opening it from the library or
 * at a source of an answer (the passage's turn marked, its quoted sentences highlighted and
 * scrolled into view), Previous / Next source, "Ask only about this transcript", find in the
 * transcript (the CSS Custom Highlight API) and one speaker's turns, a link to each turn
 * (`#read=<id>&turn=<n>`, opened by main.js), closing (button,
 * backdrop, Escape), Tab kept inside, and focus back on what opened it. A transcript is fetched a
 * page of turns at a time (the page holding a source's turn), with "Show earlier / later turns"
 * for the rest; each page once per index generation (api.js getTranscript).
 */

import { getTranscript } from "./api.js";
import { saveQuote } from "./board.js";
import { h, mediaLink, plural, safeHref, sourceHeading, speakerOf } from "./dom.js";

const $ = (id) => document.getElementById(id);
const els = {
  dialog: $("reader"),
  kicker: $("reader-kicker"),
  title: $("reader-title"),
  meta: $("reader-meta"),
  tools: $("reader-tools"),
  body: $("reader-body"),
  foot: $("reader-foot"),
  close: $("reader-close"),
  prev: $("reader-prev"),
  next: $("reader-next"),
};

let state = null; // {mode: "transcript"|"source", id, turn?, n?, opener}
let hooks = { isScoped: () => false, toggleScope: () => {}, summary: () => null, announce: () => {} };
const cache = new Map(); // transcript id -> Promise of its detail
let generation = null;
let shown = 0; // ignores a fetch that finishes after the reader moved on
const TURNS = 1000; // turns a page holds

/** Forget cached transcripts when the index changed (the library saw a new generation). */
export function setGeneration(g) {
  if (g !== generation) cache.clear();
  generation = g;
}

/** A page of transcript `id` (`params` as api.js getTranscript takes them). */
function load(id, params = {}) {
  const key = JSON.stringify([id, params]);
  if (!cache.has(key)) {
    const p = getTranscript(id, { limit: TURNS, speakers_limit: 0, ...params });
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return cache.get(key);
}

/* ------------------------------------------------------------------ highlighting */

/** `text` as nodes, the passage's words in it wrapped in a .passage-hit span and every quote in <mark>. */
function highlighted(text, passage, quotes) {
  const map = [];
  let norm = "";
  for (let i = 0; i < text.length; i++) {
    if (/\s/.test(text[i])) {
      if (norm.endsWith(" ")) continue;
      norm += " ";
    } else norm += text[i];
    map.push(i);
  }
  map.push(text.length);
  const find = (needle, from = 0) => {
    const nq = needle.replace(/\s+/g, " ").trim();
    const at = nq ? norm.indexOf(nq, from) : -1;
    return at < 0 ? null : [map[at], map[at + nq.length - 1] + 1, at];
  };
  // the passage whole, else its longest line found here (an intro's passage opens with the title)
  const parts = passage ? [passage, ...passage.split(/\n+/).sort((a, b) => b.length - a.length)] : [];
  let hit = null;
  for (const part of parts) if ((hit = find(part))) break;
  const marks = [];
  for (const q of quotes) {
    const r = (hit && find(q, hit[2])) || find(q);
    if (r) marks.push([r[0], r[1]]);
  }
  marks.sort((a, b) => a[0] - b[0]);
  const piece = (from, to) => {
    const out = [];
    let pos = from;
    for (const [s, e] of marks) {
      if (s < pos || s >= to) continue;
      if (s > pos) out.push(text.slice(pos, s));
      out.push(h("mark", null, text.slice(s, Math.min(e, to))));
      pos = Math.min(e, to);
    }
    if (pos < to) out.push(text.slice(pos, to));
    return out;
  };
  if (!hit) return { nodes: piece(0, text.length), found: Boolean(marks.length) };
  return {
    nodes: [...piece(0, hit[0]), h("span", { class: "passage-hit" }, piece(hit[0], hit[1])), ...piece(hit[1], text.length)],
    found: true,
  };
}

/* ------------------------------------------------------------------ the transcript */

/** The fragment that names turn `n` of transcript `id`: the page opened with it opens the reader
 * there (main.js), and the turn's element has it as its id (a same-page link has its target). */
export function turnFragment(id, n) {
  return `read=${encodeURIComponent(id)}&turn=${n}`;
}

function who(name, role, timestamp, media, link = null) {
  return h("p", { class: "who" },
    h("span", { class: "speaker" }, name),
    role ? h("span", { class: "role" }, role) : null,
    media ? mediaLink(media, timestamp, name) : timestamp ? h("span", { class: "timestamp" }, timestamp) : null,
    link ? h("a", { class: "turn-link", href: `#${turnFragment(link.id, link.n)}`, "aria-label": `Link to turn ${link.n}` },
      `Turn ${link.n}`) : null);
}

function introBlock(detail, target) {
  const mine = target && target.turn === 0 ? highlighted(detail.intro, target.text, target.quotes) : null;
  const block = h("section", { class: `turn intro${mine ? " current" : ""}`, "data-turn": "0" },
    h("p", { class: "who" }, h("span", { class: "speaker" }, "Introduction")),
    h("p", { class: "said" }, mine ? mine.nodes : detail.intro));
  return { block, mine };
}

/** The turns a source's passage spans: [first, last] (a conversation's passage is several turns). */
function passageTurns(s) {
  const first = s.first_turn || s.turn;
  return [first, Math.max(s.last_turn || 0, first, s.turn)];
}

/** Turn `t`'s line of `s`'s passage (one line a turn, each opening with its speaker's name), the
 * name taken off; the whole passage when it is one turn's words. */
function lineOf(s, t) {
  const lines = s.text.split("\n");
  const [first, last] = passageTurns(s);
  const line = first === last ? s.text : lines[t.number - first] ?? "";
  const name = `${t.speaker}: `;
  return line.startsWith(name) ? line.slice(name.length) : line;
}

function turnItem(t, target, id) {
  const [first, last] = target ? passageTurns(target) : [-1, -1];
  const inside = target && t.number >= first && t.number <= last;
  const mine = inside ? highlighted(t.text, lineOf(target, t), target.quotes) : null;
  const current = target && target.turn === t.number;
  const li = h("li", { class: `turn${inside ? " in-passage" : ""}${current ? " current" : ""}`, "data-turn": String(t.number),
    "data-speaker": t.speaker || "", id: turnFragment(id, t.number), tabindex: "-1" });
  if (t.question) {
    li.append(h("div", { class: "turn-question" }, h("p", { class: "who" }, h("span", { class: "speaker" }, t.asked_by || "Question")),
      h("p", { class: "said" }, t.question)));
  }
  li.append(who(t.speaker || "Unnamed speaker", t.role, t.timestamp, t.media_url, { id, n: t.number }),
    h("p", { class: "said" }, mine ? mine.nodes : t.text));
  return { li, mine };
}

/** "Show earlier turns" (before the list) or "Show later turns" (after it) of a transcript shown
 * from turn position `first` (from 0) to `end`: fetches the next page and adds it in place. */
function moreTurns(detail, list, range, earlier) {
  const left = earlier ? range.first : (detail.total_turns ?? 0) - range.end;
  if (left <= 0) return null;
  const button = h("button", { type: "button", class: "btn btn-small btn-ghost turns-more" },
    `Show ${earlier ? "earlier" : "later"} turns (${left.toLocaleString()} not shown)`);
  button.addEventListener("click", async () => {
    const token = shown;
    button.disabled = true;
    try {
      const offset = earlier ? Math.max(0, range.first - TURNS) : range.end;
      const page = await load(detail.id, { offset, limit: earlier ? range.first - offset : TURNS });
      if (token !== shown) return;
      const items = page.turns.map((t) => turnItem(t, null, detail.id).li);
      if (earlier) {
        list.prepend(...items);
        range.first = page.offset;
      } else {
        list.append(...items);
        range.end = page.offset + page.turns.length;
      }
      const next = items.length ? moreTurns(detail, list, range, earlier) : null;
      if (earlier && !next && range.first === 0 && detail.intro) list.before(introBlock(detail, null).block);
      button.replaceWith(next || "");
      (next || els.body).focus();
    } catch {
      button.disabled = false;
    }
  });
  return button;
}

/** A page of the transcript's turns; `target` (a source) is marked and highlighted. Returns {nodes, hit}. */
function renderTranscript(detail, target) {
  const nodes = [];
  let hit = null;
  const first = detail.offset ?? 0;
  if (detail.intro && first === 0) {
    const { block, mine } = introBlock(detail, target);
    if (mine) hit = block;
    nodes.push(block);
  }
  const list = h("ol", { class: "turns" });
  for (const t of detail.turns) {
    const { li, mine } = turnItem(t, target, detail.id);
    if (mine && (!hit || t.number === target.turn)) hit = li;
    list.append(li);
  }
  const range = { first, end: first + detail.turns.length };
  nodes.push(moreTurns(detail, list, range, true), list, moreTurns(detail, list, range, false));
  return { nodes: nodes.filter(Boolean), hit };
}

function describe(detail) {
  const summary = hooks.summary(detail.id);
  const speakers = detail.speaker_count ?? (summary ? summary.speaker_count ?? summary.speakers.length
    : new Set(detail.turns.map((t) => t.speaker)).size);
  return [detail.kind === "interview" ? "Interview" : "Conversation", plural(speakers, "speaker", "speakers"),
    plural(detail.total_turns ?? detail.turns.length, "turn", "turns")].join(" · ");
}

function scopeButton(id, title) {
  const pressed = hooks.isScoped(id);
  return h("button", {
    type: "button", class: "btn btn-small scope-toggle", "aria-pressed": pressed ? "true" : "false",
    onclick: (ev) => {
      hooks.toggleScope({ id, title });
      ev.currentTarget.setAttribute("aria-pressed", hooks.isScoped(id) ? "true" : "false");
    },
  }, "Ask only about this transcript");
}

/* ------------------------------------------------------------------ find, and one speaker's turns */

const find = { ranges: [], at: -1 };

/** Every place the turns shown (not hidden by the speaker filter) say `q`, case ignored, as Ranges. */
function matches(q) {
  const needle = q.trim().toLocaleLowerCase();
  const out = [];
  if (!needle) return out;
  for (const said of els.body.querySelectorAll(".turn:not([hidden]) .said")) {
    const walker = document.createTreeWalker(said, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.data.toLocaleLowerCase();
      for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) {
        const range = new Range();
        range.setStart(node, i);
        range.setEnd(node, i + needle.length);
        out.push(range);
      }
    }
  }
  return out;
}

/** Paint the matches (the CSS Custom Highlight API: no node of the transcript is changed) and say where we are. */
function paintFind(count) {
  if (globalThis.CSS && CSS.highlights) {
    CSS.highlights.set("find", new Highlight(...find.ranges));
    CSS.highlights.set("find-current", new Highlight(...(find.at >= 0 ? [find.ranges[find.at]] : [])));
  }
  const q = els.tools.querySelector(".find-input")?.value.trim();
  count.textContent = !q ? "" : find.ranges.length ? `${find.at + 1} of ${find.ranges.length}` : "No match";
  const range = find.ranges[find.at];
  if (range) range.startContainer.parentElement.closest(".turn").scrollIntoView({ block: "center", behavior: "instant" });
}

function search(input, count) {
  find.ranges = matches(input.value);
  find.at = find.ranges.length ? 0 : -1;
  paintFind(count);
}

function step(count, delta) {
  if (!find.ranges.length) return;
  find.at = (find.at + delta + find.ranges.length) % find.ranges.length;
  paintFind(count);
}

function clearFind() {
  find.ranges = [];
  find.at = -1;
  if (globalThis.CSS && CSS.highlights) {
    CSS.highlights.delete("find");
    CSS.highlights.delete("find-current");
  }
}

/** Find in the transcript (Enter: the next match; Shift+Enter: the one before) and a speaker filter. */
function readingTools(detail) {
  const count = h("span", { class: "find-count", role: "status" });
  const input = h("input", { type: "search", class: "find-input", "aria-label": "Find in this transcript",
    placeholder: "Find in this transcript", autocomplete: "off" });
  input.addEventListener("input", () => search(input, count));
  input.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    step(count, ev.shiftKey ? -1 : 1);
  });
  const prev = h("button", { type: "button", class: "btn btn-small btn-ghost", "aria-label": "Previous match", onclick: () => step(count, -1) }, "‹");
  const next = h("button", { type: "button", class: "btn btn-small btn-ghost", "aria-label": "Next match", onclick: () => step(count, 1) }, "›");
  const names = [...new Set(detail.turns.map((t) => t.speaker).filter(Boolean))].sort((a, b) => a.localeCompare(b));
  const filter = h("select", { class: "speaker-filter", "aria-label": "Show the turns of" },
    h("option", { value: "" }, "Every speaker"), ...names.map((n) => h("option", { value: n }, n)));
  filter.addEventListener("change", () => {
    for (const li of els.body.querySelectorAll(".turn[data-speaker]")) li.hidden = Boolean(filter.value) && li.dataset.speaker !== filter.value;
    const shown = els.body.querySelectorAll(".turn[data-speaker]:not([hidden])").length;
    hooks.announce(filter.value ? `${plural(shown, "turn", "turns")} by ${filter.value}.` : "Every speaker’s turns.");
    search(input, count);
  });
  return h("div", { class: "reading-tools" }, input, prev, next, count, names.length > 1 ? filter : null);
}

function fillTools(id, title, media, hit, detail = null) {
  // the tools are rebuilt when the transcript arrives: a focused one hands focus to its successor
  const focused = els.tools.contains(document.activeElement) ? document.activeElement.textContent : null;
  clearFind();
  const tools = [scopeButton(id, title)];
  const href = media ? safeHref(media) : null;
  if (href) tools.push(mediaLink(href, "", title));
  if (hit) {
    tools.push(h("button", { type: "button", class: "btn btn-small btn-ghost", onclick: () => reveal(hit) }, "Back to the passage"));
    const s = state && state.mode === "source" ? state.turn.sources.find((x) => x.n === state.n) : null;
    if (s && s.quotes.length) {
      tools.push(h("button", { type: "button", class: "btn btn-small btn-ghost save-quote",
        onclick: () => saveQuote({ ...s, text: s.quotes[0], speaker: speakerOf(s) }) }, "Save quote"));
    }
    tools.push(h("p", { class: "legend" }, h("mark", null, "Highlighted"), " sentences are quoted in the answer."));
  }
  if (detail && detail.turns.length) tools.push(readingTools(detail));
  els.tools.replaceChildren(...tools);
  if (focused !== null) {
    const same = [...els.tools.querySelectorAll("button, a[href]")].find((el) => el.textContent === focused);
    (same || els.close).focus();
  }
}

/** Focus stays in the open dialog when what held it was replaced (Tab must not escape it). */
function keepFocusInside() {
  if (els.dialog.open && !els.dialog.contains(document.activeElement)) els.close.focus();
}

function reveal(el) {
  const target = el.querySelector("mark") || el.querySelector(".passage-hit") || el;
  target.scrollIntoView({ block: "center", inline: "nearest", behavior: "instant" });
}

/* ------------------------------------------------------------------ filling the dialog */

function sourceKicker(turn, s) {
  if (turn.kicker) return turn.kicker; // a quote opened from the topic explorer
  return `Source ${s.n} of ${turn.sources.length}${turn.citations.includes(s.n) ? " · cited in the answer" : ""}`;
}

async function fillSource() {
  const token = ++shown;
  const { turn, n } = state;
  const index = turn.sources.findIndex((s) => s.n === n);
  const s = turn.sources[index];
  els.kicker.textContent = sourceKicker(turn, s);
  els.title.textContent = s.title || s.transcript || "Transcript";
  els.meta.textContent = [speakerOf(s), s.turn > 0 ? `turn ${s.turn}` : "", s.timestamp].filter(Boolean).join(" · ");
  els.prev.disabled = index <= 0;
  els.next.disabled = index >= turn.sources.length - 1;
  els.foot.hidden = false;
  // The passage at once, the whole transcript around it when it arrives.
  const alone = h("section", { class: "turn current", "data-turn": String(s.turn) },
    who(speakerOf(s), "", s.timestamp, s.media_url),
    ...s.text.split("\n").map((line) => h("p", { class: "said" }, highlighted(line, line, s.quotes).nodes)));
  els.body.replaceChildren(h("p", { class: "loading" }, "Loading the transcript…"), alone);
  fillTools(s.transcript, s.title, "", alone);
  els.body.dataset.state = "loading";
  try {
    const detail = await load(s.transcript, s.turn > 0 ? { turn: s.turn } : {});
    if (token !== shown) return;
    const { nodes, hit } = renderTranscript(detail, s);
    if (!hit) throw new Error("the passage is not in the transcript any more");
    els.body.replaceChildren(...nodes);
    els.body.dataset.state = "transcript";
    fillTools(s.transcript, detail.title, detail.media_url, hit, detail);
    keepFocusInside();
    reveal(hit);
  } catch (err) {
    if (token !== shown) return;
    els.body.dataset.state = "passage";
    els.body.replaceChildren(h("p", { class: "loading" }, err.status === 404
      ? "This transcript is no longer in the library. Here is the passage as it was quoted."
      : "The transcript could not be loaded. Here is the passage as it was quoted."), alone);
    keepFocusInside();
    reveal(alone);
  }
}

async function fillTranscript() {
  const token = ++shown;
  const { id, title } = state;
  els.kicker.textContent = "Transcript";
  els.title.textContent = title || id;
  els.meta.textContent = "";
  els.foot.hidden = true;
  els.tools.replaceChildren();
  els.body.replaceChildren(h("p", { class: "loading" }, "Loading the transcript…"));
  els.body.dataset.state = "loading";
  try {
    const detail = await load(id, state.turn ? { turn: state.turn } : {});
    if (token !== shown) return;
    els.title.textContent = detail.title;
    els.meta.textContent = describe(detail);
    fillTools(id, detail.title, detail.media_url, null, detail);
    els.body.replaceChildren(...renderTranscript(detail, null).nodes);
    els.body.dataset.state = "transcript";
    els.body.scrollTop = 0;
    const at = state.turn ? els.body.querySelector(`.turn[data-turn="${state.turn}"]`) : null;
    if (at) {
      at.classList.add("current");
      reveal(at);
    }
    keepFocusInside();
  } catch (err) {
    if (token !== shown) return;
    els.body.dataset.state = "error";
    els.body.replaceChildren(h("p", { class: "loading" }, err.status === 404
      ? "This transcript is no longer in the library." : "The transcript could not be loaded. Try again in a moment."));
  }
}

function show(opener) {
  if (!els.dialog.open) els.dialog.showModal();
  state.opener = state.opener || opener;
  els.close.focus();
}

/** Read transcript `id` from the start, or at turn `turn` (marked, and scrolled to). */
export function openTranscript(id, title, opener, turn = 0) {
  state = { mode: "transcript", id, title, opener, turn };
  show(opener);
  return fillTranscript();
}

/** Open source `n` of an answer `turn` inside its transcript, scrolled to the quoted sentences. */
export function openSource(turn, n, opener) {
  if (!turn.sources.some((s) => s.n === n)) return null;
  state = { mode: "source", turn, n, opener };
  show(opener);
  hooks.announce(`Source ${n}: ${sourceHeading(turn.sources.find((s) => s.n === n))}`);
  return fillSource();
}

export function closeReader() {
  if (els.dialog.open) els.dialog.close();
}

function stepSource(delta) {
  if (!state || state.mode !== "source") return;
  const { turn } = state;
  const index = turn.sources.findIndex((s) => s.n === state.n) + delta;
  if (index < 0 || index >= turn.sources.length) return;
  state.n = turn.sources[index].n;
  fillSource();
  (delta < 0 ? (els.prev.disabled ? els.next : els.prev) : (els.next.disabled ? els.prev : els.next)).focus();
}

/** Attach the reader's controls and keys (once, at start); `given` connects it to the scope. */
export function setUpReader(given) {
  hooks = { ...hooks, ...given };
  els.close.addEventListener("click", () => els.dialog.close());
  els.prev.addEventListener("click", () => stepSource(-1));
  els.next.addEventListener("click", () => stepSource(1));
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
    clearFind();
    const opener = state && state.opener;
    state = null;
    shown++;
    if (opener && opener.isConnected) opener.focus();
  });
}
