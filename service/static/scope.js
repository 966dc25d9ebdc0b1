/* scope.js: what the next questions of this conversation ask about: some transcripts and/or some
 * speakers, chosen in the library or the reader, kept with the conversation (store.js) and sent as
 * the chat request's `filters`. It owns the chips above the question box (each removable, and
 * Clear; their label says how they combine: any of the transcripts, and within them any of the
 * speakers) and tells screen readers what changed.
 */

import { ICONS, h, icon } from "./dom.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const els = { wrap: $("scope"), label: $("scope-label"), chips: $("scope-chips"), clear: $("scope-clear"), input: $("question") };
let hooks = { announce: () => {}, changed: () => {} };

const scope = () => store.current().scope;
export const isTranscriptScoped = (id) => scope().transcripts.some((t) => t.id === id);
export const isSpeakerScoped = (name) => scope().speakers.includes(name);
export const scopedTranscripts = () => scope().transcripts.map((t) => t.id);
export const scopedSpeakers = () => [...scope().speakers];

function describe(s) {
  const parts = [...s.transcripts.map((t) => `“${t.title}”`), ...s.speakers];
  return parts.length ? `Questions now ask only about ${parts.join(", ")}.` : "Questions now ask about every transcript.";
}

function update(next, focusAfter) {
  store.setScope(next);
  renderScope();
  hooks.changed();
  hooks.announce(describe(scope()));
  if (focusAfter) focusAfter.focus();
}

export function toggleTranscript({ id, title }) {
  const s = scope();
  const transcripts = isTranscriptScoped(id) ? s.transcripts.filter((t) => t.id !== id) : [...s.transcripts, { id, title: title || id }];
  update({ ...s, transcripts });
}

export function toggleSpeaker(name) {
  const s = scope();
  const speakers = isSpeakerScoped(name) ? s.speakers.filter((n) => n !== name) : [...s.speakers, name];
  update({ ...s, speakers });
}

function chip(kind, label, remove) {
  return h("li", { class: `chip chip-${kind}` },
    icon(kind === "transcript" ? ICONS.doc : ICONS.person),
    h("span", { class: "chip-label" }, label),
    h("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${label} from what questions ask about`, onclick: remove },
      icon(ICONS.close)));
}

/** How the chips combine, in words: any of the transcripts, and within them any of the speakers. */
export function scopeLabel(s) {
  const nt = s.transcripts.length;
  const ns = s.speakers.length;
  const speakers = ns > 1 ? "any of these speakers" : "this speaker";
  const transcripts = nt > 1 ? "any of these transcripts" : "this transcript";
  if (nt && ns) return `Asking only about what ${speakers} said, in ${transcripts}:`;
  if (ns) return `Asking only about what ${speakers} said:`;
  return `Asking only about ${transcripts}:`;
}

/** The chips for the current conversation's scope (hidden when it has none). */
export function renderScope() {
  const s = scope();
  els.label.textContent = scopeLabel(s);
  const chips = [
    ...s.transcripts.map((t) => chip("transcript", t.title, () => {
      update({ ...s, transcripts: s.transcripts.filter((x) => x.id !== t.id) }, els.input);
    })),
    ...s.speakers.map((name) => chip("speaker", name, () => {
      update({ ...s, speakers: s.speakers.filter((x) => x !== name) }, els.input);
    })),
  ];
  els.chips.replaceChildren(...chips);
  els.wrap.hidden = chips.length === 0;
}

/** Wire Clear (once, at start); `given`: {announce(text), changed()} (the library's buttons follow). */
export function setUpScope(given) {
  hooks = { ...hooks, ...given };
  els.clear.addEventListener("click", () => update(store.emptyScope(), els.input));
  renderScope();
}
