/* render.js: the elements of the conversation: one turn (a question, with its editor; an answer,
 * with its sources and tools; a notice) and the starter questions. It keeps no state: what a click
 * does is passed in as `actions` ({openSource(turn, n, opener), send(question, scope),
 * copy(turn, button), regenerate(), edit(turn), submitEdit(turn, text), cancelEdit(turn),
 * saveQuote(quote)}).
 */

import { ICONS, h, icon, mediaLink, plural, speakerOf } from "./dom.js";
import { renderRichText } from "./richtext.js";

/* ------------------------------------------------------------------ sources */

function snippet(s) {
  const text = (s.quotes[0] || s.text).replace(/\s+/g, " ").trim();
  return text.length > 160 ? `${text.slice(0, 159).trimEnd()}…` : text;
}

function sourceCard(turn, source, actions) {
  const cited = turn.citations.includes(source.n);
  return h("li", { class: "source-item" },
    h("button", {
      type: "button",
      class: `source-card${cited ? " cited" : ""}`,
      "aria-haspopup": "dialog",
      "data-n": source.n,
      "data-transcript": source.transcript,
      onclick: (ev) => actions.openSource(turn, source.n, ev.currentTarget),
    },
      h("span", { class: "source-n", "aria-hidden": "true" }, String(source.n)),
      h("span", { class: "source-body" },
        h("span", { class: "visually-hidden" }, `Source ${source.n}: `),
        h("span", { class: "source-who" }, speakerOf(source)),
        h("span", { class: "source-where" }, [source.title || source.transcript, source.timestamp].filter(Boolean).join(" · ")),
        h("span", { class: "source-snippet" }, snippet(source)),
      ),
    ),
    mediaLink(source.media_url, source.timestamp, speakerOf(source)),
    source.quotes.length && actions.saveQuote ? h("button", {
      type: "button", class: "btn btn-small btn-ghost save-quote", "aria-label": `Save quote of source ${source.n} to the quote board`,
      onclick: () => actions.saveQuote({ ...source, text: source.quotes[0], speaker: speakerOf(source) }),
    }, "Save quote") : null,
  );
}

function renderSources(turn, actions) {
  if (!turn.sources.length) return null;
  const wrap = h("div", { class: "sources" });
  if (turn.abstained) {
    wrap.append(h("h4", { class: "sources-title" }, "Closest passages"),
      h("ol", { class: "source-list" }, turn.sources.map((s) => sourceCard(turn, s, actions))));
    return wrap;
  }
  const cited = turn.sources.filter((s) => turn.citations.includes(s.n));
  const others = turn.sources.filter((s) => !turn.citations.includes(s.n));
  const main = turn.status === "done" && cited.length ? cited : turn.sources;
  wrap.append(h("h4", { class: "sources-title" }, main === cited ? "Sources" : "Passages found"),
    h("ol", { class: "source-list" }, main.map((s) => sourceCard(turn, s, actions))));
  if (main === cited && others.length) {
    wrap.append(h("details", { class: "more-sources" },
      h("summary", null, `${plural(others.length, "other passage", "other passages")} searched`),
      h("ol", { class: "source-list" }, others.map((s) => sourceCard(turn, s, actions)))));
  }
  return wrap;
}

/* ------------------------------------------------------------------ turns */

/** "Committee meeting 12 · Kirsty Williams": what a scope is, in a line. */
export function scopeText(scope) {
  if (!scope) return "";
  return [...scope.transcripts.map((t) => t.title), ...scope.speakers].join(" · ");
}

function renderEditor(turn, actions) {
  const box = h("textarea", { class: "edit-box", rows: "3", "aria-label": "Edit your question" });
  box.value = turn.content;
  const submit = () => actions.submitEdit(turn, box.value);
  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      actions.cancelEdit(turn);
    }
  });
  return h("div", { class: "editor" }, box,
    h("div", { class: "editor-actions" },
      h("button", { type: "button", class: "btn btn-small btn-ghost", onclick: () => actions.cancelEdit(turn) }, "Cancel"),
      h("button", { type: "button", class: "btn btn-small btn-primary", onclick: submit }, "Send")));
}

function renderUser(turn, actions) {
  const failed = turn.status !== "ok";
  const el = h("article", { class: `msg user${failed ? " failed" : ""}`, "data-turn": turn.id },
    h("h3", { class: "visually-hidden" }, "You asked"));
  if (turn.editing) {
    el.append(renderEditor(turn, actions));
    return el;
  }
  el.append(h("div", { class: "bubble" }, turn.content));
  const scope = scopeText(turn.scope);
  if (scope) el.append(h("p", { class: "msg-scope" }, `Asked only about ${scope}`));
  if (turn.status === "failed") el.append(h("p", { class: "msg-note" }, "Not answered"));
  if (turn.status === "ok") {
    el.append(h("div", { class: "msg-tools" },
      h("button", { type: "button", class: "btn btn-small btn-ghost edit-last", "aria-label": "Edit the question", hidden: true,
        onclick: () => actions.edit(turn) }, icon(ICONS.edit), h("span", null, "Edit"))));
  }
  return el;
}

function elapsedText(turn) {
  return turn.elapsed >= 2 ? ` ${turn.elapsed} s` : "";
}

/** The answer's text (with the typing dots while it streams): also repainted alone per frame. */
export function renderAnswerBody(turn, actions) {
  const body = h("div", { class: "answer-text" });
  if (turn.content) body.append(renderRichText(turn.content, { sources: turn.sources, turn, actions }));
  if (turn.status === "streaming") {
    body.append(h("span", { class: "typing", role: "img", "aria-label": turn.content ? "still writing" : "searching the transcripts" },
      h("span"), h("span"), h("span")));
    const label = turn.content ? "" : turn.sources.length ? "Writing the answer…" : "Searching the transcripts…";
    if (label || turn.elapsed >= 2) {
      body.append(h("span", { class: "typing-label" }, label,
        turn.elapsed >= 2 ? h("span", { class: "elapsed" }, elapsedText(turn)) : null));
    }
  }
  return body;
}

/** The search text differs from the question in its words, not just in case or punctuation. */
function reallyRewritten(turn) {
  const words = (text) => (text || "").toLocaleLowerCase().match(/[\p{L}\p{N}]+/gu)?.join(" ") || "";
  return Boolean(turn.standalone_question) && words(turn.standalone_question) !== words(turn.asked);
}

function renderAssistant(turn, actions) {
  const classes = ["msg", "assistant"];
  if (turn.abstained) classes.push("abstained");
  const el = h("article", {
    class: classes.join(" "),
    "data-turn": turn.id,
    "data-status": turn.status,
    "data-transport": turn.transport || null,
    "data-token-events": turn.tokenEvents ? String(turn.tokenEvents) : null,
    "aria-busy": turn.status === "streaming" ? "true" : null,
  });
  el.append(h("h3", { class: "visually-hidden" }, turn.abstained ? "Not covered by the transcripts" : "Answer"));
  if (turn.abstained) {
    el.append(h("p", { class: "abstain-label", "aria-hidden": "true" }, icon(ICONS.info), "Not covered by the transcripts"));
  }
  el.append(renderAnswerBody(turn, actions));
  if (turn.status === "done" && turn.stopped) {
    el.append(h("p", { class: "msg-note" }, "Stopped before the answer was finished."));
  }
  if (turn.status === "done" && !turn.abstained && !turn.stopped && turn.verified === false) {
    el.append(h("p", { class: "msg-note warn" }, icon(ICONS.warn),
      "Some of this answer could not be matched to a cited passage. Check the sources before relying on it."));
  }
  const sources = renderSources(turn, actions);
  if (sources) el.append(sources);
  if (turn.status === "done") {
    const meta = h("div", { class: "msg-meta" });
    if (reallyRewritten(turn)) meta.append(h("p", { class: "searched" }, `Searched for: ${turn.standalone_question}`));
    const tools = h("div", { class: "msg-tools" });
    if (turn.content && !turn.abstained) {
      tools.append(h("button", { type: "button", class: "btn btn-small btn-ghost copy", "aria-label": "Copy the answer with its sources",
        onclick: (ev) => actions.copy(turn, ev.currentTarget) }, icon(ICONS.copy), h("span", null, "Copy")));
    }
    if (turn.alternatives === false) { // a built-in answer with nothing after it: Regenerate would give it again
      tools.append(h("p", { class: "regenerate no-other", hidden: true }, "The transcripts give no other answer to this question."));
    } else {
      tools.append(h("button", { type: "button", class: "btn btn-small btn-ghost regenerate", "aria-label": "Regenerate the answer", hidden: true,
        onclick: () => actions.regenerate() }, icon(ICONS.redo), h("span", null, "Regenerate")));
    }
    meta.append(tools);
    el.append(meta);
  }
  return el;
}

function renderNotice(turn, actions) {
  const el = h("div", { class: `msg notice ${turn.kind}`, "data-turn": turn.id, role: turn.kind === "stopped" ? "status" : "alert" },
    h("p", { class: "notice-title" }, turn.kind === "stopped" ? icon(ICONS.info) : icon(ICONS.warn), turn.title),
    h("p", { class: "notice-text" }, turn.text));
  if (turn.retry) {
    el.append(h("button", { type: "button", class: "btn btn-small", onclick: () => actions.send(turn.retry, turn.retryScope) },
      turn.kind === "interrupted" ? "Retry" : "Try again"));
  }
  return el;
}

/** The element of one turn: a question, an answer or a notice. */
export function renderTurn(turn, actions) {
  if (turn.role === "user") return renderUser(turn, actions);
  if (turn.role === "assistant") return renderAssistant(turn, actions);
  return renderNotice(turn, actions);
}

/** The starter questions, one button each. */
export function renderStarters(questions, actions) {
  return questions.map((q) =>
    h("li", null, h("button", { type: "button", class: "starter", onclick: () => actions.send(q) }, q)));
}
