/* library.js: the library panel (#library): every transcript of the index with its title, kind,
 * speakers, length and date of ingest, searchable by title, file or speaker; "Read" opens it in
 * the reader, "Ask only about this" and each speaker's button scope the next questions
 * (scope.js). The list is fetched when the panel opens and again when the index changes.
 */

import { getTranscripts } from "./api.js";
import { h, plural } from "./dom.js";
import { isSpeakerScoped, isTranscriptScoped, toggleSpeaker, toggleTranscript } from "./scope.js";

const $ = (id) => document.getElementById(id);
const els = { list: $("transcript-list"), search: $("library-search"), count: $("library-count") };

let listing = null; // {transcripts, index_generation}
let loading = null;
let hooks = { read: () => {}, generation: () => {} };

/** The summary of transcript `id` from the last listing (null before it is loaded). */
export function summaryOf(id) {
  return (listing && listing.transcripts.find((t) => t.id === id)) || null;
}

const fold = (text) => String(text || "").normalize("NFKD").replace(/\p{M}/gu, "").toLocaleLowerCase();

function matches(t, q) {
  if (!q) return { any: true, speakers: false };
  const inSpeakers = t.speakers.some((s) => fold(s.name).includes(q));
  return { any: inSpeakers || [t.title, t.id, t.source].some((v) => fold(v).includes(q)), speakers: inSpeakers };
}

export function formatDate(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !Number.isNaN(d.getTime()) ? d.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" }) : "";
}

function pressed(on) {
  return on ? "true" : "false";
}

function speakerButton(s) {
  return h("li", null, h("button", {
    type: "button", class: "speaker-toggle", "aria-pressed": pressed(isSpeakerScoped(s.name)), "data-speaker": s.name,
    onclick: () => toggleSpeaker(s.name),
  }, h("span", { class: "speaker-name" }, s.name), h("span", { class: "visually-hidden" }, ", "),
  h("span", { class: "speaker-turns" }, plural(s.turns, "turn", "turns"))));
}

function item(t, openSpeakers) {
  const names = t.speakers.map((s) => s.name);
  const shownNames = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
  const meta = [t.kind === "interview" ? "Interview" : "Conversation", plural(t.speakers.length, "speaker", "speakers"),
    plural(t.turns, "turn", "turns"), t.ingested_at ? `added ${formatDate(t.ingested_at)}` : ""].filter(Boolean).join(" · ");
  return h("li", { class: "transcript", "data-id": t.id },
    h("h3", { class: "t-title" }, t.title),
    h("p", { class: "t-meta" }, meta),
    t.source && t.source !== t.title ? h("p", { class: "t-file" }, t.source) : null,
    h("div", { class: "t-actions" },
      h("button", { type: "button", class: "btn btn-small t-read", "aria-haspopup": "dialog", onclick: (ev) => hooks.read(t, ev.currentTarget) },
        "Read", h("span", { class: "visually-hidden" }, ` “${t.title}”`)),
      h("button", { type: "button", class: "btn btn-small scope-toggle", "aria-pressed": pressed(isTranscriptScoped(t.id)), "data-id": t.id,
        onclick: () => toggleTranscript({ id: t.id, title: t.title }) },
      "Ask only about this", h("span", { class: "visually-hidden" }, ` transcript, “${t.title}”`))),
    names.length ? h("details", { class: "t-speakers", open: openSpeakers || null },
      h("summary", null, h("span", { class: "visually-hidden" }, "Speakers: "), shownNames),
      h("p", { class: "t-hint" }, "Choose speakers to ask only about what they said."),
      h("ul", { class: "speaker-list" }, t.speakers.map(speakerButton))) : null);
}

/** Paint the list for the search box's text. */
export function renderLibrary() {
  if (!listing) return;
  const q = fold(els.search.value.trim());
  const all = listing.transcripts;
  const found = all.map((t) => [t, matches(t, q)]).filter(([, m]) => m.any);
  els.list.replaceChildren(...found.map(([t, m]) => item(t, m.speakers)));
  const speakers = new Set(all.flatMap((t) => t.speakers.map((s) => s.name))).size;
  els.count.textContent = !q
    ? `${plural(all.length, "transcript", "transcripts")} · ${plural(speakers, "speaker", "speakers")}`
    : found.length
      ? `${found.length} of ${plural(all.length, "transcript", "transcripts")} match “${els.search.value.trim()}”`
      : `No transcript or speaker matches “${els.search.value.trim()}”.`;
}

/** Follow a scope change made elsewhere (a chip removed, the reader's button). */
export function syncLibrary() {
  for (const b of els.list.querySelectorAll(".scope-toggle")) b.setAttribute("aria-pressed", pressed(isTranscriptScoped(b.dataset.id)));
  for (const b of els.list.querySelectorAll(".speaker-toggle")) b.setAttribute("aria-pressed", pressed(isSpeakerScoped(b.dataset.speaker)));
}

/** Fetch the list (again when `force`, or when the index generation moved on). */
export function loadLibrary(force = false) {
  if (loading) return loading;
  if (listing && !force) return Promise.resolve(listing);
  if (!listing) els.count.textContent = "Loading the transcripts…";
  loading = getTranscripts().then((body) => {
    listing = { transcripts: Array.isArray(body.transcripts) ? body.transcripts : [], index_generation: body.index_generation };
    hooks.generation(listing.index_generation);
    renderLibrary();
    return listing;
  }).catch(() => {
    if (!listing) els.count.textContent = "The list of transcripts could not be loaded. Open the library again to retry.";
    return listing;
  }).finally(() => { loading = null; });
  return loading;
}

/** Wire the search box (once, at start); `given`: {read(summary, opener), generation(g)}. */
export function setUpLibrary(given) {
  hooks = { ...hooks, ...given };
  els.search.addEventListener("input", renderLibrary);
}
