/* main.js: the wiring of the chat page, loaded by index.html as the one module. It owns the status
 * line and the starters, Export, switching conversations (new, open, one removed), following
 * another tab, and starting every part:
 *   api.js (the service), store.js (the conversations), thread.js (the turns on the page),
 *   asking.js (sending, stop, retry, regenerate, edit, copy), render.js + richtext.js + dom.js (the
 *   nodes), composer.js (the question box), scope.js (what questions ask about), library.js,
 *   reader.js (a transcript, or a source inside it), explorer.js (a topic across the folder),
 *   uploader.js (adding transcripts), board.js (the quote board), chats.js (the saved list), panels.js (side
 *   panels and drawers), markdown.js (export), theme.js (dark / light).
 * Plain JS, no build step, no dependencies.
 */

import { getHealth, getStarters } from "./api.js";
import { setUpBoard } from "./board.js";
import { actions, inFlight, send, setUpAsking, showInterrupted, stop } from "./asking.js";
import { renderChats, setUpChats } from "./chats.js";
import * as composer from "./composer.js";
import { plural } from "./dom.js";
import { setUpExplorer } from "./explorer.js";
import { loadLibrary, overview, renderLibrary, setUpLibrary, summaryOf, syncLibrary } from "./library.js";
import { conversationMarkdown, fileName } from "./markdown.js";
import { closeDrawer, isWide, setUpPanels } from "./panels.js";
import { closeReader, openSource, openTranscript, setGeneration, setUpReader } from "./reader.js";
import { renderStarters } from "./render.js";
import { isTranscriptScoped, renderScope, setUpScope, toggleTranscript } from "./scope.js";
import * as store from "./store.js";
import { setUpTheme } from "./theme.js";
import { setUpUploader } from "./uploader.js";
import { announce, paintAll, setUpThread } from "./thread.js";

const $ = (id) => document.getElementById(id);
const els = {
  status: $("status"),
  statusText: $("status-text"),
  newChat: $("new-chat"),
  exportBtn: $("export"),
  startersBlock: $("starters-block"),
  starters: $("starters"),
  input: $("question"),
};

/* ------------------------------------------------------------------ status line and starters */

let healthTimer = 0;
let healthFailures = 0;
let knownTranscripts = null;

function setStatus(kind, text) {
  els.status.dataset.state = kind;
  els.statusText.textContent = text;
}

async function refreshHealth() {
  clearTimeout(healthTimer);
  try {
    const hl = await getHealth();
    healthFailures = 0;
    composer.setLimit(Number(hl.max_question_chars));
    store.setLimits(Number(hl.max_turns), Number(hl.max_conversation_chars));
    const mode = hl.answer_mode === "llm"
      ? `answers by ${hl.llm_model || "a language model"}`
      : hl.answer_mode === "extractive" ? "built-in answers (quotes, no LLM)" : `answers: ${hl.answer_mode}`;
    const counts = `${plural(Number(hl.transcripts) || 0, "transcript", "transcripts")} · ${plural(Number(hl.chunks) || 0, "passage", "passages")} indexed`;
    if (hl.status === "ok") {
      setStatus("ok", `${counts} · ${mode}`);
    } else {
      setStatus("degraded", `${counts} · ${mode} · The transcript store is not answering right now, so questions may fail.`);
    }
    // Transcripts added or removed while the page is open: the library looks again.
    if (knownTranscripts !== null && knownTranscripts !== hl.transcripts) loadLibrary(true);
    knownTranscripts = hl.transcripts;
    if (!store.allTurns().length) loadStarters();
    healthTimer = setTimeout(refreshHealth, hl.status === "ok" ? 60000 : 10000);
    return true;
  } catch {
    healthFailures++;
    setStatus("down", "Can’t reach the service. Retrying…");
    healthTimer = setTimeout(refreshHealth, Math.min(30000, 3000 * healthFailures));
    return false;
  }
}

let startersState = "none"; // none | loading | loaded
async function loadStarters() {
  if (startersState !== "none") return;
  startersState = "loading";
  try {
    const list = await getStarters(4);
    els.starters.replaceChildren(...renderStarters(list, actions));
    els.startersBlock.hidden = list.length === 0;
    startersState = "loaded";
  } catch {
    startersState = "none"; // try again with the next successful health check
  }
}

function exportChat() {
  const chat = store.current();
  const blob = new Blob([conversationMarkdown(chat)], { type: "text/markdown;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName(chat);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  announce(`Exported “${chat.title || "this chat"}” as Markdown.`);
}

/* ------------------------------------------------------------------ conversations */

function showConversation() {
  closeReader();
  paintAll();
  renderScope();
  syncLibrary();
  renderChats();
}

function newChat() {
  stop();
  store.startNew();
  showConversation();
  closeDrawer();
  els.input.focus();
  announce("New chat started. Earlier chats are in the chat list.");
}

function openChat(id) {
  if (id !== store.current().id) {
    stop();
    if (!store.open(id)) return;
    showInterrupted();
    showConversation();
  }
  closeDrawer();
  els.input.focus();
  announce(`Opened “${store.current().title || "chat"}”.`);
}

// Another tab changed a conversation: the list follows, and so does this one when it is shown here.
window.addEventListener("storage", (ev) => {
  if (!ev.key || !ev.key.startsWith(store.CHAT_PREFIX)) return;
  renderChats();
  if (ev.key !== store.CHAT_PREFIX + store.current().id || inFlight() || ev.newValue === null) return;
  store.reloadCurrent();
  showConversation();
});

/* ------------------------------------------------------------------ links to a turn */

/** `#read=<id>&turn=<n>` (a turn's link in the reader) opens that transcript at that turn. */
function openLinkedTurn() {
  const params = new URLSearchParams(location.hash.slice(1));
  const id = params.get("read");
  if (!id) return;
  const turn = Math.max(0, Number.parseInt(params.get("turn") || "0", 10) || 0);
  openTranscript(id, id, els.input, turn);
}
window.addEventListener("hashchange", openLinkedTurn);

/* ------------------------------------------------------------------ start */

setUpThread({ actions, busy: inFlight, empty: loadStarters });
setUpAsking({ unreachable: refreshHealth, settled: renderChats });
setUpTheme($("theme"), announce);
setUpScope({ announce, changed: syncLibrary });
setUpLibrary({
  read: (t, opener) => {
    if (!isWide()) closeDrawer();
    openTranscript(t.id, t.title, isWide() ? opener : $("library-toggle"));
  },
  generation: setGeneration,
  announce,
  loaded: (listing) => {
    const el = $("folder-overview");
    el.textContent = listing.transcript_count ? `This folder holds ${overview(listing)}.` : "";
    el.hidden = !listing.transcript_count;
  },
});
setUpBoard({ openTurn: (q, opener) => openTranscript(q.transcript, q.title, opener, q.turn), announce });
setUpUploader({ added: () => { loadLibrary(true); refreshHealth(); }, announce });
setUpExplorer({ openQuote: (source, opener) => openSource(source, 1, opener), announce });
setUpReader({ isScoped: isTranscriptScoped, toggleScope: toggleTranscript, summary: summaryOf, announce });
setUpChats({ open: openChat, removedCurrent: () => { stop(); store.startNew(); showConversation(); }, announce });
setUpPanels({ library: () => { loadLibrary().then(renderLibrary); }, chats: renderChats });
composer.setUpComposer({ send: () => send(), stop, busy: () => Boolean(inFlight()), announce });
els.newChat.addEventListener("click", newChat);
els.exportBtn.addEventListener("click", exportChat);

store.restoreTab();
showInterrupted();
showConversation();
refreshHealth();
loadLibrary(); // the welcome says what the folder holds
openLinkedTurn();
if (!matchMedia("(pointer: coarse)").matches) els.input.focus();
