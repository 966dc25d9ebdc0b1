/* richtext.js: the rich text of an answer, built with createElement only: paragraphs, simple
 * lists, the lines of a digest or a who-said answer as a list grouped by speaker, **bold**,
 * `code`, links (through safeHref) and citations [n] as buttons that open their source.
 */

import { h, link, safeHref, sourceHeading } from "./dom.js";

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
    const where = sourceHeading(source);
    group.append(
      h("button", {
        type: "button",
        class: "cite",
        "aria-haspopup": "dialog",
        "aria-label": `Source ${n}: ${where}`,
        title: where,
        "data-n": n,
        onclick: (ev) => ctx.actions.openSource(ctx.turn, n, ev.currentTarget),
      }, h("span", { class: "cite-n" }, String(n))),
    );
  }
  return group;
}

const LIST_ITEM = /^\s*(?:[-*•]|(\d+)[.)])\s+(.*)$/;
// "Name: “quoted sentence” [1] “another” [4]": one speaker's line of a digest or a who-said answer
const SPEAKER_LINE = /^([^\s:“”"][^:\n“”"]{0,79}):\s+(“.*)$/;
const QUOTE_ITEM = /“[^”]*”(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*/g;

// a line of quotes with no speaker (a transcript's title and intro, an unlabelled transcript)
const QUOTES_LINE = /^“.*”\s*(?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)?/;

/** Two or more lines of speakers' quotes: a list by speaker, each with its quotes as a list. */
function renderBySpeaker(lines, ctx) {
  return h("ul", { class: "by-speaker" }, lines.map((line) => {
    const named = SPEAKER_LINE.exec(line);
    const said = named ? named[2] : line;
    const quotes = said.match(QUOTE_ITEM) || [said];
    return h("li", null,
      named ? h("p", { class: "by-speaker-name" }, named[1]) : null,
      h("ul", { class: "by-speaker-quotes" }, quotes.map((q) => h("li", null, renderInline(q.trim(), ctx)))));
  }));
}

const isSpeakerLines = (lines) => lines.length > 1 && lines.some((l) => SPEAKER_LINE.test(l))
  && lines.every((l) => SPEAKER_LINE.test(l) || QUOTES_LINE.test(l));

/** Paragraphs, simple lists, line breaks and inline marks, built with createElement only. */
export function renderRichText(text, ctx) {
  text = text.replaceAll("&lt;", "<"); // the service writes the `<` of raw HTML so (docs/api.md); shown as text here
  const frag = document.createDocumentFragment();
  for (const block of text.split(/\n\s*\n/)) {
    if (!block.trim()) continue;
    const lines = block.split("\n").filter((l) => l.trim());
    if (isSpeakerLines(lines)) {
      frag.append(renderBySpeaker(lines, ctx));
      continue;
    }
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


