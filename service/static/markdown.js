/* markdown.js: a conversation, or one answer, as Markdown with its sources, for Export and Copy.
 * Pure functions over the stored turns; it touches no DOM.
 *
 * The file is inert in any Markdown viewer, whatever the turns hold (a transcript quoted with its
 * `<script>`, an old stored answer with `[click](javascript:…)`): plain text (a title, a speaker,
 * a question, a passage) is escaped to show as written, and an answer keeps its Markdown but no
 * raw HTML, image or link other than to an http(s) address written out in full (`inertAnswer`).
 * `<` and `&` are written as entities, not with a backslash, which some renderers (Python-Markdown)
 * do not honour before `<`.
 */

import { safeHref, sourceHeading } from "./dom.js";
import { scopeText } from "./render.js";

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/** Text that is not Markdown (a title, a speaker, a question, a quoted passage) made literal. */
export function escape(text) {
  return String(text).replace(/[&<>]/g, (c) => ENTITIES[c]).replace(/([\\`*_[\]#|])/g, "\\$1");
}

// What in an answer could start raw HTML (`<` before a letter, `/`, `!` or `?`: a tag, comment,
// declaration or autolink), an image (`![`) or a link (`](`, `][`, `]:`), and the backslash, so
// that no escape the answer holds or this adds is undone. A link is kept only as `[text](url)`
// with a url that `safeHref` takes (an http(s) address that the browser reads as written), and
// not after a `!`: an image does not become a link either.
const RAW = /\\|<(?=[A-Za-z/!?])|!(?=\[)|\](?=[([:])/g;
const MARKS = new RegExp(`(?<!!)\\[([^[\\]\\n]*)\\]\\(([^\\s()<>]+)\\)|${RAW.source}`, "g");
const mark = (m) => (m === "<" ? "&lt;" : `\\${m}`);
const inert = (text) => text.replace(RAW, mark);

/** An answer (Markdown from the service, or as a stored conversation holds it) made inert. */
export function inertAnswer(text) {
  return String(text).replace(MARKS, (m, label, url) =>
    label === undefined ? mark(m) : safeHref(url) ? `[${inert(label)}](${url})` : inert(m));
}

function quoteBlock(text) {
  return `> ${escape(text.replace(/\s+/g, " ").trim())}`;
}

function sourceLines(turn, s) {
  const where = [sourceHeading(s)];
  if (s.turn > 0) where.push(`turn ${s.turn}`);
  if (s.timestamp) where.push(s.timestamp);
  const cited = turn.citations.includes(s.n) ? " (cited)" : "";
  const media = s.media_url ? safeHref(s.media_url) : null;
  const head = `[${s.n}] ${escape(where.join(", "))}${cited}${media ? ` <${media}>` : ""}`;
  return [head, "", ...(s.quotes.length ? s.quotes : [s.text]).map(quoteBlock), ""];
}

/** One answer with its sources: what Copy puts on the clipboard. */
export function answerMarkdown(turn) {
  const lines = [inertAnswer(turn.content.trim()), ""];
  const shown = turn.abstained ? turn.sources : turn.sources.filter((s) => turn.citations.includes(s.n));
  if (shown.length) {
    lines.push(turn.abstained ? "Closest passages:" : "Sources:", "");
    for (const s of shown) lines.push(...sourceLines(turn, s));
  }
  return `${lines.join("\n").trim()}\n`;
}

/** The whole conversation: each question, its answer and the answer's sources. */
export function conversationMarkdown(chat, exportedAt = new Date()) {
  const title = chat.title || "Transcript chat";
  const lines = [`# ${escape(title)}`, "", `Exported from Transcript chat on ${exportedAt.toISOString().slice(0, 10)}.`, ""];
  for (const t of chat.turns) {
    if (t.role === "user" && t.status === "ok") {
      lines.push("## Question", "");
      const scope = scopeText(t.scope);
      if (scope) lines.push(`_Asked only about ${escape(scope)}_`, "");
      lines.push(escape(t.content.trim()), "");
    } else if (t.role === "assistant" && t.status === "done") {
      lines.push(t.abstained ? "## Not covered by the transcripts" : "## Answer", "", answerMarkdown(t).trim(), "");
    }
  }
  return `${lines.join("\n").trim()}\n`;
}

/** A file name for the conversation: its title in plain letters, digits and dashes. */
export function fileName(chat) {
  const base = (chat.title || "transcript-chat").normalize("NFKD").replace(/[^\w\s-]/g, "").trim()
    .replace(/\s+/g, "-").slice(0, 60).toLowerCase();
  return `${base || "transcript-chat"}.md`;
}

/** The quote board as Markdown: each quote, then who said it, where and when. */
export function boardMarkdown(quotes, exportedAt = new Date()) {
  const lines = ["# Quote board", "", `Exported ${exportedAt.toISOString().slice(0, 10)}; ${quotes.length} quote${quotes.length === 1 ? "" : "s"}.`, ""];
  for (const q of quotes) {
    const where = [q.speaker, q.title || q.transcript, q.turn > 0 ? `turn ${q.turn}` : "", q.timestamp].filter(Boolean).join(", ");
    lines.push(quoteBlock(`“${q.text}”`), ">", `> — ${escape(where)}`, "");
  }
  return lines.join("\n");
}

/** One CSV field: quoted, inner quotes doubled; a leading = + - @ (a spreadsheet formula) defused with a '. */
function csvField(value) {
  const text = String(value ?? "");
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replace(/"/g, '""')}"`;
}

/** The quote board as CSV (RFC 4180, CRLF line ends), one row a quote. */
export function boardCsv(quotes) {
  const head = ["quote", "speaker", "transcript", "title", "turn", "timestamp", "saved"];
  const rows = quotes.map((q) => [q.text, q.speaker, q.transcript, q.title, q.turn || "", q.timestamp, q.saved]);
  return [head, ...rows].map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}
