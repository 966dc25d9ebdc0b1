/* markdown.js: a conversation, or one answer, as Markdown with its sources, for Export and Copy.
 * Pure functions over the stored turns; it touches no DOM.
 */

import { sourceHeading } from "./dom.js";
import { scopeText } from "./render.js";

/** Markdown's special characters in text that is not ours (a title, a speaker) made literal. */
function escape(text) {
  return String(text).replace(/([\\`*_[\]<>#|])/g, "\\$1");
}

function quoteBlock(text) {
  return `> ${text.replace(/\s+/g, " ").trim()}`;
}

function sourceLines(turn, s) {
  const where = [sourceHeading(s)];
  if (s.turn > 0) where.push(`turn ${s.turn}`);
  if (s.timestamp) where.push(s.timestamp);
  const cited = turn.citations.includes(s.n) ? " (cited)" : "";
  const head = `[${s.n}] ${escape(where.join(", "))}${cited}${s.media_url ? ` <${s.media_url}>` : ""}`;
  return [head, "", ...(s.quotes.length ? s.quotes : [s.text]).map(quoteBlock), ""];
}

/** One answer with its sources: what Copy puts on the clipboard. */
export function answerMarkdown(turn) {
  const lines = [turn.content.trim(), ""];
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
      lines.push(t.content.trim(), "");
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
