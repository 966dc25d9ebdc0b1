/* render.js: building the page's nodes. It owns the h() helper, the icons, the rich text of an
 * answer (paragraphs, lists, marks, citations, and the safe link rules safeHref / INLINE), the
 * elements of one turn (question, answer, sources, notice), the passage dialog's content and the
 * starter questions. It keeps no state: what a click does is passed in as `actions`
 * ({openPassage(turn, n, opener), send(question)}).
 *
 * Safety rule of this file: text from the model or the transcripts only ever reaches the page
 * through textContent / createTextNode / createElement. There is no innerHTML anywhere, and a
 * link is only made for an http(s) address written out in full (see safeHref).
 */

/* ------------------------------------------------------------------ DOM helpers */

/** createElement with a class, attributes and children; strings become text nodes. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function icon(paths) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of paths) {
    const p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", d);
    svg.append(p);
  }
  return svg;
}
const ICONS = {
  info: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M12 11v5", "M12 7.5v.5"],
  warn: ["M12 4 2.8 19.5h18.4z", "M12 10v4.5", "M12 17v.5"],
  copy: ["M9 9h10v10H9z", "M5 15V5h10"],
  check: ["M5 12.5l4.5 4.5L19 7.5"],
};

export function plural(n, one, many) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/* ------------------------------------------------------------------ safe rich text */

const WRITTEN_OUT = /^https?:\/\/[^\/\\]/;

/**
 * The URL if `raw` is an http(s) address written out in full and read back by the browser as
 * the very same text (a bare host may gain its "/"), with no user name or password; else null.
 * The service already removed links to hosts outside ANSWER_LINK_HOSTS; this refuses whatever
 * the browser would read differently from the text: `https:host`, `https:/host`, `https:\\host`,
 * `//host`, `mailto:`, `javascript:` and friends never become links.
 */
function safeHref(raw) {
  if (!WRITTEN_OUT.test(raw)) return null;
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password) return null;
  return url.href === raw || url.href === `${raw}/` ? url.href : null;
}

function link(label, href) {
  return h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", referrerpolicy: "no-referrer" }, label);
}

// One pass over the text finds, in order: markdown links, citations, bare URLs, **bold**, `code`.
// A bare URL starts a word (after a space, a bracket or a quote): in `xhttps://…`, `_https://…`
// or `go?to=https://…` the "https://…" is not an address of its own.
const INLINE = /\[([^\]\n]+)\]\(([^)\s]+)\)|\[(\d+(?:\s*[,;]\s*\d+)*)\]|(?<![^\s(<"'“‘«])(https?:\/\/[^\s<>"'()\[\]]+)|\*\*([^*\n]+)\*\*|`([^`\n]+)`/g;

function renderInline(text, ctx) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    last = m.index + m[0].length;
    if (m[1] !== undefined) {
      const href = safeHref(m[2]);
      out.push(href ? link(m[1], href) : document.createTextNode(m[1]));
    } else if (m[3] !== undefined) {
      out.push(citationGroup(m[3], ctx));
    } else if (m[4] !== undefined) {
      let url = m[4];
      const trail = url.match(/[.,;:!?]+$/);
      if (trail) {
        url = url.slice(0, -trail[0].length);
        last -= trail[0].length;
      }
      const href = safeHref(url);
      out.push(href ? link(url, href) : document.createTextNode(url));
    } else if (m[5] !== undefined) {
      out.push(h("strong", null, m[5]));
    } else if (m[6] !== undefined) {
      out.push(h("code", null, m[6]));
    }
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function citationGroup(numbers, ctx) {
  const group = h("span", { class: "cites" });
  for (const part of numbers.split(/\s*[,;]\s*/)) {
    const n = Number(part);
    const source = ctx.sources.find((s) => s.n === n);
    if (!source) {
      group.append(h("span", { class: "cite cite-missing", title: "No passage with this number" }, `[${part}]`));
      continue;
    }
    group.append(
      h("button", {
        type: "button",
        class: "cite",
        "aria-haspopup": "dialog",
        "aria-label": `Source ${n}: ${source.question || source.title}`,
        title: `${source.speaker ? source.speaker + " — " : ""}${source.question || source.title}`,
        "data-n": n,
        onclick: (ev) => ctx.actions.openPassage(ctx.turn, n, ev.currentTarget),
      }, String(n)),
    );
  }
  return group;
}

const LIST_ITEM = /^\s*(?:[-*•]|(\d+)[.)])\s+(.*)$/;

/** Paragraphs, simple lists, line breaks and inline marks, built with createElement only. */
function renderRichText(text, ctx) {
  const frag = document.createDocumentFragment();
  for (const block of text.split(/\n\s*\n/)) {
    if (!block.trim()) continue;
    const lines = block.split("\n");
    if (lines.every((l) => LIST_ITEM.test(l))) {
      const ordered = LIST_ITEM.exec(lines[0])[1] !== undefined;
      const list = h(ordered ? "ol" : "ul");
      for (const line of lines) list.append(h("li", null, renderInline(LIST_ITEM.exec(line)[2], ctx)));
      frag.append(list);
      continue;
    }
    const p = h("p");
    lines.forEach((line, i) => {
      if (i) p.append(h("br"));
      p.append(...renderInline(line, ctx));
    });
    frag.append(p);
  }
  return frag;
}

/* ------------------------------------------------------------------ turns */

function renderUser(turn) {
  return h("article", { class: `msg user${turn.status === "failed" ? " failed" : ""}`, "data-turn": turn.id },
    h("h3", { class: "visually-hidden" }, "You asked"),
    h("div", { class: "bubble" }, turn.content),
    turn.status === "failed" ? h("p", { class: "msg-note" }, "Not answered") : null,
  );
}

function sourceCard(turn, source, actions) {
  const cited = turn.citations.includes(source.n);
  return h("li", null,
    h("button", {
      type: "button",
      class: `source-card${cited ? " cited" : ""}`,
      "aria-haspopup": "dialog",
      "data-n": source.n,
      onclick: (ev) => actions.openPassage(turn, source.n, ev.currentTarget),
    },
      h("span", { class: "source-n", "aria-hidden": "true" }, String(source.n)),
      h("span", { class: "source-body" },
        h("span", { class: "visually-hidden" }, `Source ${source.n}: `),
        h("span", { class: "source-q" }, source.question || "(no interviewer question)"),
        h("span", { class: "source-meta" }, [source.speaker, source.title, source.timestamp].filter(Boolean).join(" · ")),
      ),
    ),
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

/** The answer's text (with the typing dots while it streams): also repainted alone per frame. */
export function renderAnswerBody(turn, actions) {
  const body = h("div", { class: "answer-text" });
  if (turn.content) body.append(renderRichText(turn.content, { sources: turn.sources, turn, actions }));
  if (turn.status === "streaming") {
    body.append(h("span", { class: "typing", role: "img", "aria-label": turn.content ? "still writing" : "searching the transcripts" },
      h("span"), h("span"), h("span")));
    if (!turn.content) body.append(h("span", { class: "typing-label" }, turn.sources.length ? "Writing the answer…" : "Searching the transcripts…"));
  }
  return body;
}

function copyButton(turn) {
  const label = h("span", null, "Copy");
  const btn = h("button", { type: "button", class: "btn btn-small btn-ghost", "aria-label": "Copy the answer" }, icon(ICONS.copy), label);
  btn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(turn.content);
      label.textContent = "Copied";
    } catch {
      label.textContent = "Copy failed";
    }
    setTimeout(() => { label.textContent = "Copy"; }, 1600);
  });
  return btn;
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
    if (turn.standalone_question) meta.append(h("span", { class: "searched" }, `Searched for: ${turn.standalone_question}`));
    if (turn.content && !turn.abstained) meta.append(copyButton(turn));
    if (meta.childElementCount) el.append(meta);
  }
  return el;
}

function renderNotice(turn, actions) {
  const el = h("div", { class: `msg notice ${turn.kind}`, "data-turn": turn.id, role: turn.kind === "error" ? "alert" : "status" },
    h("p", { class: "notice-title" }, turn.kind === "error" ? icon(ICONS.warn) : icon(ICONS.info), turn.title),
    h("p", { class: "notice-text" }, turn.text));
  if (turn.retry) {
    el.append(h("button", { type: "button", class: "btn btn-small", onclick: () => actions.send(turn.retry) }, "Try again"));
  }
  return el;
}

/** The element of one turn: a question, an answer or a notice. */
export function renderTurn(turn, actions) {
  if (turn.role === "user") return renderUser(turn);
  if (turn.role === "assistant") return renderAssistant(turn, actions);
  return renderNotice(turn, actions);
}

/** The starter questions, one button each. */
export function renderStarters(questions, actions) {
  return questions.map((q) =>
    h("li", null, h("button", { type: "button", class: "starter", onclick: () => actions.send(q) }, q)));
}

/* ------------------------------------------------------------------ passage dialog content */

/** Split `text` into nodes with every quoted sentence wrapped in <mark>. */
function highlighted(text, quotes) {
  // Work on a whitespace-normalised copy so quotes match across non-breaking / double spaces.
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
  const ranges = [];
  for (const q of quotes) {
    const nq = q.replace(/\s+/g, " ").trim();
    if (!nq) continue;
    const at = norm.indexOf(nq);
    if (at < 0) continue;
    ranges.push([map[at], map[at + nq.length - 1] + 1]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const nodes = [];
  let pos = 0;
  let found = 0;
  for (const [start, end] of ranges) {
    if (start < pos) continue;
    if (start > pos) nodes.push(document.createTextNode(text.slice(pos, start)));
    nodes.push(h("mark", null, text.slice(start, end)));
    pos = end;
    found++;
  }
  if (pos < text.length) nodes.push(document.createTextNode(text.slice(pos)));
  return { nodes, found };
}

/** What the passage dialog shows for source `s` of `turn`: its kicker, its title and its body nodes. */
export function renderPassage(turn, s) {
  const kicker = `Source ${s.n} of ${turn.sources.length}${turn.citations.includes(s.n) ? " · cited in the answer" : ""}`;
  const title = s.title || s.transcript || "Transcript";
  const { nodes, found } = highlighted(s.text, s.quotes);
  const body = [
    h("div", { class: "qa qa-q" },
      h("p", { class: "who" }, "Interviewer"),
      h("p", { class: "said" }, s.question || "(no question recorded)")),
    h("div", { class: "qa qa-a" },
      h("p", { class: "who" }, s.speaker || "Interviewee", s.timestamp ? h("span", { class: "timestamp" }, ` at ${s.timestamp}`) : null),
      h("blockquote", { class: "said passage-text" }, nodes)),
  ];
  if (s.quotes.length && found < s.quotes.length) {
    body.push(h("div", { class: "quoted-extra" }, h("p", { class: "who" }, "Quoted in the answer"),
      s.quotes.map((q) => h("p", null, h("mark", null, q)))));
  } else if (found) {
    body.push(h("p", { class: "legend" }, h("mark", null, "Highlighted"), " ", found === 1 ? "sentence is quoted in the answer." : "sentences are quoted in the answer."));
  }
  const where = [`Transcript “${s.transcript}”`];
  if (s.turn) where.push(`question ${s.turn}`);
  if (s.end > s.start) where.push(`characters ${s.start.toLocaleString()}–${s.end.toLocaleString()}`);
  body.push(h("p", { class: "where" }, where.join(" · ")));
  return { kicker, title, body };
}
