/* library.js: the library panel (#library): the transcripts of the index with their title, kind,
 * topics (its most distinctive terms), speakers with their roles, length and date of ingest, searchable by title, file or speaker; "Read" opens one in
 * the reader, "Ask only about this" and each speaker's button scope the next questions
 * (scope.js). The list is fetched a page at a time when the panel opens and again when the index
 * changes; each transcript shows its first speakers and a "Show more" for the rest. The search
 * asks the service (GET /v1/transcripts?q=), so a transcript with 20,000 speakers costs a
 * keystroke no more than a small one.
 */

import { getTranscript, getTranscripts } from "./api.js";
import { h, plural } from "./dom.js";
import { isSpeakerScoped, isTranscriptScoped, scopedSpeakers, scopedTranscripts, toggleSpeaker, toggleTranscript } from "./scope.js";

const $ = (id) => document.getElementById(id);
const els = { list: $("transcript-list"), search: $("library-search"), count: $("library-count") };

const PAGE = 100; // transcripts fetched at a time
const SPEAKERS = 50; // speakers listed with each transcript
const MORE_SPEAKERS = 200; // speakers one "Show more" adds
const TYPING = 200; // ms of quiet in the search box before it asks the service

let listing = null; // the pages loaded without a search: {transcripts, total, transcript_count, speaker_count, index_generation}
let found = null; // the same for the search text `found.q`
let loading = null;
let searches = 0; // an answer to an older search text is dropped
let typing = null;
let hooks = { read: () => {}, generation: () => {}, loaded: () => {}, announce: () => {} };

/** The summary of transcript `id` from the pages loaded (null when it is not among them). */
export function summaryOf(id) {
  for (const view of [listing, found]) {
    const t = view && view.transcripts.find((x) => x.id === id);
    if (t) return t;
  }
  return null;
}

export function formatDate(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !Number.isNaN(d.getTime()) ? d.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" }) : "";
}

function pressed(on) {
  return on ? "true" : "false";
}

/* A choice that would match nothing is offered greyed out, saying why: a speaker who speaks in
 * none of the chosen transcripts, a transcript in which none of the chosen speakers speaks (the
 * service would refuse the question). What the pages loaded do not say is not greyed. */
function speaksInChosen(name) {
  const ids = scopedTranscripts();
  return !ids.length || ids.some((id) => {
    const t = summaryOf(id);
    return !t || t.speakers.some((s) => s.name === name) || (t.speakers_matching == null && speakerCount(t) > t.speakers.length);
  });
}

function holdsChosen(t) {
  const names = scopedSpeakers();
  return !names.length || names.some((n) => t.speakers.some((s) => s.name === n)) || speakerCount(t) > t.speakers.length;
}

const IMPOSSIBLE = { speaker: "Speaks in none of the chosen transcripts", transcript: "None of the chosen speakers speaks in it" };

/** Grey out (or not) one library button, by what is chosen now. */
function markPossible(button, possible, why) {
  const off = !possible && button.getAttribute("aria-pressed") !== "true";
  button.classList.toggle("is-impossible", off);
  if (off) {
    button.setAttribute("aria-disabled", "true");
    button.title = why;
  } else {
    button.removeAttribute("aria-disabled");
    button.removeAttribute("title");
  }
}

function choose(button, toggle) {
  if (button.getAttribute("aria-disabled") === "true") {
    hooks.announce(`${button.title}: choosing it would match nothing.`);
    return;
  }
  toggle();
}

function speakerButton(s) {
  return h("li", null, h("button", {
    type: "button", class: "speaker-toggle", "aria-pressed": pressed(isSpeakerScoped(s.name)), "data-speaker": s.name,
    onclick: (ev) => choose(ev.currentTarget, () => toggleSpeaker(s.name)),
  }, h("span", { class: "speaker-name" }, s.name), h("span", { class: "visually-hidden" }, ", "),
  s.role ? h("span", { class: "speaker-role" }, s.role) : null, s.role ? h("span", { class: "visually-hidden" }, ", ") : null,
  h("span", { class: "speaker-turns" }, plural(s.turns, "turn", "turns"))));
}

const speakerCount = (t) => t.speaker_count ?? t.speakers.length;
/** How many speakers the shown list is cut from: the matching ones in a search, else all. */
const listedOf = (t) => t.speakers_matching ?? speakerCount(t);

/** "Show more speakers" under a transcript's list: fetches the next ones and adds them. */
function moreSpeakers(t, q, list) {
  const left = listedOf(t) - t.speakers.length;
  if (left <= 0) return null;
  const button = h("button", { type: "button", class: "btn btn-small btn-ghost speakers-more" },
    `Show more speakers (${left.toLocaleString()} not shown)`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const page = await getTranscript(t.id, { limit: 0, speakers_offset: t.speakers.length, speakers_limit: MORE_SPEAKERS,
        speakers_q: t.speakers_matching != null ? q : "" });
      const added = page.speakers.filter((s) => !t.speakers.some((x) => x.name === s.name));
      t.speakers.push(...added);
      const items = added.map(speakerButton);
      list.append(...items);
      const next = added.length ? moreSpeakers(t, q, list) : null;
      button.replaceWith(next || "");
      if (items.length) items[0].querySelector("button").focus();
    } catch {
      button.disabled = false;
    }
  });
  return button;
}

function item(t, q) {
  const names = t.speakers.map((s) => s.name);
  const count = speakerCount(t);
  const first = names.slice(0, 3);
  const shownNames = count > first.length ? `${first.join(", ")} and ${(count - first.length).toLocaleString()} more` : first.join(", ");
  const meta = [t.kind === "interview" ? "Interview" : "Conversation", plural(count, "speaker", "speakers"),
    plural(t.turns, "turn", "turns"), t.ingested_at ? `added ${formatDate(t.ingested_at)}` : ""].filter(Boolean).join(" · ");
  const list = h("ul", { class: "speaker-list" }, t.speakers.map(speakerButton));
  return h("li", { class: "transcript", "data-id": t.id },
    h("h3", { class: "t-title" }, t.title),
    h("p", { class: "t-meta" }, meta),
    t.topics && t.topics.length ? h("p", { class: "t-topics" }, h("span", { class: "t-topics-label" }, "About: "), t.topics.join(" · ")) : null,
    t.source && t.source !== t.title ? h("p", { class: "t-file" }, t.source) : null,
    h("div", { class: "t-actions" },
      h("button", { type: "button", class: "btn btn-small t-read", "aria-haspopup": "dialog", onclick: (ev) => hooks.read(t, ev.currentTarget) },
        "Read", h("span", { class: "visually-hidden" }, ` “${t.title}”`)),
      h("button", { type: "button", class: "btn btn-small scope-toggle", "aria-pressed": pressed(isTranscriptScoped(t.id)), "data-id": t.id,
        onclick: (ev) => choose(ev.currentTarget, () => toggleTranscript({ id: t.id, title: t.title })) },
      "Ask only about this", h("span", { class: "visually-hidden" }, ` transcript, “${t.title}”`))),
    names.length ? h("details", { class: "t-speakers", open: q && t.speakers_matching ? true : null },
      h("summary", null, h("span", { class: "visually-hidden" }, "Speakers: "), shownNames),
      h("p", { class: "t-hint" }, "Choose speakers to ask only about what they said."),
      list, moreSpeakers(t, q, list)) : null);
}

function pageOf(body) {
  return {
    transcripts: Array.isArray(body.transcripts) ? body.transcripts : [],
    total: Number(body.total) || 0,
    transcript_count: Number(body.transcript_count) || 0,
    speaker_count: Number(body.speaker_count) || 0,
    turn_count: Number(body.turn_count) || 0,
    timed_hours: body.timed_hours == null ? null : Number(body.timed_hours),
    index_generation: body.index_generation,
  };
}

/** What the folder holds, in one line: "36 transcripts · 412 speakers · 9,876 turns · 12.5 hours
 * recorded" (hours only when transcripts have timestamps). */
export function overview(view) {
  const hours = view.timed_hours ? `${view.timed_hours.toLocaleString(undefined, { maximumFractionDigits: 1 })} hours recorded` : "";
  return [plural(view.transcript_count, "transcript", "transcripts"), plural(view.speaker_count, "speaker", "speakers"),
    plural(view.turn_count, "turn", "turns"), hours].filter(Boolean).join(" · ");
}

/** "Show more transcripts" at the end of a view that has more than it shows. */
function moreTranscripts(view) {
  const left = view.total - view.transcripts.length;
  if (left <= 0) return null;
  const button = h("button", { type: "button", class: "btn btn-small btn-ghost transcripts-more" },
    `Show more transcripts (${left.toLocaleString()} not shown)`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const body = pageOf(await getTranscripts({ q: view.q, offset: view.transcripts.length, limit: PAGE, speakers: SPEAKERS }));
      const first = view.transcripts.length;
      view.transcripts.push(...body.transcripts);
      view.total = body.total;
      renderLibrary();
      const next = els.list.querySelectorAll(".transcript .t-read")[first];
      if (next) next.focus();
    } catch {
      button.disabled = false;
    }
  });
  return h("li", { class: "transcripts-more-item" }, button);
}

/** Paint the list for the search box's text (once its results are in). */
export function renderLibrary() {
  if (!listing) return;
  const q = els.search.value.trim();
  const view = q ? found : listing;
  if (!view || (q && view.q !== q)) return; // the search is on its way
  els.list.replaceChildren(...view.transcripts.map((t) => item(t, q)), moreTranscripts(view) || "");
  syncLibrary();
  els.count.textContent = !q
    ? overview(listing)
    : view.total
      ? `${view.total.toLocaleString()} of ${plural(view.transcript_count, "transcript", "transcripts")} match “${q}”`
      : `No transcript or speaker matches “${q}”.`;
}

async function search(q) {
  const token = ++searches;
  try {
    const body = await getTranscripts({ q, limit: PAGE, speakers: SPEAKERS });
    if (token !== searches) return;
    found = { ...pageOf(body), q };
    renderLibrary();
  } catch {
    if (token === searches) els.count.textContent = "The search could not be done. Try again in a moment.";
  }
}

function searchSoon() {
  clearTimeout(typing);
  const q = els.search.value.trim();
  if (!q) {
    searches++;
    found = null;
    renderLibrary();
    return;
  }
  typing = setTimeout(() => search(q), TYPING);
}

/** Follow a scope change made elsewhere (a chip removed, the reader's button). */
export function syncLibrary() {
  for (const b of els.list.querySelectorAll(".scope-toggle")) {
    b.setAttribute("aria-pressed", pressed(isTranscriptScoped(b.dataset.id)));
    const t = summaryOf(b.dataset.id);
    markPossible(b, !t || holdsChosen(t), IMPOSSIBLE.transcript);
  }
  for (const b of els.list.querySelectorAll(".speaker-toggle")) {
    b.setAttribute("aria-pressed", pressed(isSpeakerScoped(b.dataset.speaker)));
    markPossible(b, speaksInChosen(b.dataset.speaker), IMPOSSIBLE.speaker);
  }
}

/** Fetch the first page (again when `force`, or when the index generation moved on). */
export function loadLibrary(force = false) {
  if (loading) return loading;
  if (listing && !force) return Promise.resolve(listing);
  if (!listing) els.count.textContent = "Loading the transcripts…";
  loading = getTranscripts({ limit: PAGE, speakers: SPEAKERS }).then((body) => {
    listing = pageOf(body);
    hooks.generation(listing.index_generation);
    hooks.loaded(listing);
    const q = els.search.value.trim();
    if (q) search(q);
    else renderLibrary();
    return listing;
  }).catch(() => {
    if (!listing) els.count.textContent = "The list of transcripts could not be loaded. Open the library again to retry.";
    return listing;
  }).finally(() => { loading = null; });
  return loading;
}

/** Wire the search box (once, at start); `given`: {read(summary, opener), generation(g), loaded(listing)}. */
export function setUpLibrary(given) {
  hooks = { ...hooks, ...given };
  els.search.addEventListener("input", searchSoon);
}
