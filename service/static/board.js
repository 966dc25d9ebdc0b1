/* board.js: the quote board. Sentences saved from an answer's sources or from the reader, each with
 * its speaker, transcript, turn and time; listed in a dialog (opened from the chat list), each one
 * opening at its turn in the reader or removed; exported as citation-ready Markdown or CSV. It is
 * kept in this browser's storage beside the conversations (one key), and follows other tabs.
 */

import { h, plural } from "./dom.js";
import { boardCsv, boardMarkdown } from "./markdown.js";

const KEY = "transcript-chat.board";
const MAX = 500; // quotes the board keeps (the oldest go first)

const $ = (id) => document.getElementById(id);
const els = {
  dialog: $("board"),
  open: $("board-open"),
  close: $("board-close"),
  list: $("board-list"),
  empty: $("board-empty"),
  md: $("board-md"),
  csv: $("board-csv"),
};

let hooks = { openTurn: () => {}, announce: () => {} };

/** The saved quotes, oldest first: {text, speaker, transcript, title, turn, timestamp, saved}. */
export function quotes() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || "[]");
    return Array.isArray(list) ? list.filter((q) => q && typeof q.text === "string" && typeof q.transcript === "string") : [];
  } catch {
    return [];
  }
}

function store(list) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(-MAX)));
  } catch { /* storage full or off: the board lasts as long as the page */ }
  paint();
}

const same = (a, b) => a.transcript === b.transcript && a.turn === b.turn && a.text === b.text;

/** Save a quote (once: the same sentence of the same turn is not saved twice). */
export function saveQuote(q) {
  const item = {
    text: String(q.text || "").replace(/\s+/g, " ").trim(), speaker: q.speaker || "", transcript: q.transcript || "",
    title: q.title || q.transcript || "", turn: Number(q.turn) || 0, timestamp: q.timestamp || "", saved: new Date().toISOString(),
  };
  if (!item.text) return;
  const list = quotes();
  if (list.some((x) => same(x, item))) {
    hooks.announce("That quote is already on the quote board.");
    return;
  }
  store([...list, item]);
  hooks.announce(`Saved to the quote board (${plural(list.length + 1, "quote", "quotes")}).`);
}

function download(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function paint() {
  const list = quotes();
  els.open.textContent = `Quote board (${list.length})`;
  els.empty.hidden = list.length > 0;
  els.md.disabled = els.csv.disabled = list.length === 0;
  els.list.replaceChildren(...list.map((q, i) => h("li", { class: "board-item" },
    h("blockquote", null, `“${q.text}”`),
    h("p", { class: "board-where" }, [q.speaker || "Unnamed speaker", q.title, q.turn > 0 ? `turn ${q.turn}` : "", q.timestamp]
      .filter(Boolean).join(" · ")),
    h("div", { class: "board-tools" },
      q.turn > 0 ? h("button", { type: "button", class: "btn btn-small btn-ghost", "aria-label": `Open quote ${i + 1} in its transcript`,
        onclick: (ev) => hooks.openTurn(q, ev.currentTarget) }, "Open") : null,
      h("button", { type: "button", class: "btn btn-small btn-ghost", "aria-label": `Remove quote ${i + 1} from the board`,
        onclick: () => {
          store(quotes().filter((x) => !same(x, q)));
          hooks.announce("Removed from the quote board.");
          (els.list.querySelector("button") || els.close).focus();
        } }, "Remove")))));
}

/** Wire the board (once, at start); `given`: {openTurn(quote, opener), announce(text)}. */
export function setUpBoard(given) {
  hooks = { ...hooks, ...given };
  els.open.addEventListener("click", () => {
    paint();
    if (!els.dialog.open) els.dialog.showModal();
    els.close.focus();
  });
  els.close.addEventListener("click", () => els.dialog.close());
  els.dialog.addEventListener("close", () => { if (els.open.isConnected) els.open.focus(); });
  els.md.addEventListener("click", () => download(boardMarkdown(quotes()), "quote-board.md", "text/markdown;charset=utf-8"));
  els.csv.addEventListener("click", () => download(boardCsv(quotes()), "quote-board.csv", "text/csv;charset=utf-8"));
  window.addEventListener("storage", (ev) => { if (ev.key === KEY || ev.key === null) paint(); });
  paint();
}
