/* scope.js: what the next questions of this conversation ask about: some transcripts and/or some
 * speakers, chosen in the library or the reader, kept with the conversation (store.js) and sent as
 * the chat request's `filters`. It owns the chips above the question box (each removable, and
 * Clear) and tells screen readers what changed.
 */

import { ICONS, h, icon } from "./dom.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const els = { wrap: $("scope"), chips: $("scope-chips"), clear: $("scope-clear"), input: $("question") };
let hooks = { announce: () => {}, changed: () => {} };

const scope = () => store.current().scope;
export const isTranscriptScoped = (id) => scope().transcripts.some((t) => t.id === id);
export const isSpeakerScoped = (name) => scope().speakers.includes(name);

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

/** The chips for the current conversation's scope (hidden when it has none). */
export function renderScope() {
  const s = scope();
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
