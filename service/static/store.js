/* store.js: the conversations, kept in this browser. It owns the conversation this tab shows (its
 * turns {id, role: "user"|"assistant"|"notice", ...}, its scope and the question in flight), the
 * saved list (one localStorage key per conversation, so two tabs each write only their own), which
 * conversation this tab is on (sessionStorage: it survives a reload, and a new tab starts its own),
 * rename, delete and restore, the cleaning of sources from the service or from storage, and the
 * messages a request sends. It touches no DOM.
 */

export const CHAT_PREFIX = "transcript-chat.chat."; // + conversation id -> the saved conversation
const LEGACY_KEY = "transcript-chat.conversation.v1"; // the one conversation of earlier versions
const TAB_KEY = "transcript-chat.tab"; // sessionStorage: {tab, chat} of this tab
const TITLE_CHARS = 60;

let nextId = 1;
export const newId = () => `t${Date.now().toString(36)}${(nextId++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

const limits = { turns: 50, conversationChars: 20000 }; // the service's caps (/health tells them)
export function setLimits(turns, conversationChars) {
  if (turns > 1) limits.turns = turns;
  if (conversationChars > 100) limits.conversationChars = conversationChars;
}

/* ------------------------------------------------------------------ this tab */

function readTab() {
  try {
    const raw = JSON.parse(sessionStorage.getItem(TAB_KEY) || "null");
    if (raw && typeof raw.tab === "string") return raw;
  } catch { /* no sessionStorage: one tab's state in memory only */ }
  return { tab: newId(), chat: null };
}
const tabState = readTab();
export const tabId = tabState.tab;

function writeTab() {
  try {
    sessionStorage.setItem(TAB_KEY, JSON.stringify(tabState));
  } catch { /* the page still works; a reload starts a new conversation */ }
}

/* ------------------------------------------------------------------ the current conversation */

function blank(id = newId()) {
  return { id, title: "", named: false, created: Date.now(), updated: Date.now(), turns: [], scope: emptyScope(), pending: null };
}
export const emptyScope = () => ({ transcripts: [], speakers: [] });

let chat = blank();

export const current = () => chat;
export const allTurns = () => chat.turns;

export function addTurns(...added) {
  chat.turns.push(...added);
}
export function removeTurns(...removed) {
  chat.turns = chat.turns.filter((t) => !removed.includes(t));
}

/** Take out the leftovers of failed attempts (notices, unanswered questions); returns them. */
export function dropTransient() {
  const gone = chat.turns.filter((t) => t.role === "notice" || (t.role === "user" && t.status !== "ok"));
  chat.turns = chat.turns.filter((t) => !gone.includes(t));
  return gone;
}

function isKept(turn) {
  return (turn.role === "user" && turn.status === "ok") || (turn.role === "assistant" && turn.status === "done");
}
const hasContent = (c) => c.turns.some(isKept) || Boolean(c.pending);

/** A title from the first question (until the person renames the conversation). */
function autoTitle(c) {
  const first = c.turns.find((t) => t.role === "user" && t.status === "ok");
  const text = ((first && first.content) || (c.pending && c.pending.question) || "").replace(/\s+/g, " ").trim();
  return text.length > TITLE_CHARS ? `${text.slice(0, TITLE_CHARS - 1).trimEnd()}…` : text;
}

function serialise(c) {
  return JSON.stringify({
    version: 2, id: c.id, title: c.title, named: c.named, created: c.created, updated: c.updated,
    turns: c.turns.filter(isKept), scope: c.scope, pending: c.pending,
  });
}

/** Write the current conversation (only once it has a question; an emptied one is removed). */
export function save() {
  tabState.chat = chat.id;
  tabState.scope = hasContent(chat) ? undefined : chat.scope;
  writeTab();
  const key = CHAT_PREFIX + chat.id;
  if (!hasContent(chat)) {
    try { localStorage.removeItem(key); } catch { /* nothing stored */ }
    return;
  }
  if (!chat.named) chat.title = autoTitle(chat);
  chat.updated = Date.now();
  try {
    localStorage.setItem(key, serialise(chat));
  } catch {
    // Storage full: keep the newer half of this conversation's turns and try once more.
    const kept = chat.turns.filter(isKept);
    try {
      localStorage.setItem(key, serialise({ ...chat, turns: kept.slice(Math.floor(kept.length / 2)) }));
    } catch { /* the conversation still works, it just won't survive a reload */ }
  }
}

/** A source with exactly the fields the page uses, each of its type (whatever was sent or stored). */
export function cleanSource(s) {
  const str = (v) => (typeof v === "string" ? v : "");
  return {
    n: Number(s.n) || 0,
    id: str(s.id),
    transcript: str(s.transcript),
    title: str(s.title),
    question: str(s.question),
    speaker: str(s.speaker),
    speakers: Array.isArray(s.speakers) ? s.speakers.filter((v) => typeof v === "string") : [],
    text: str(s.text),
    score: Number(s.score) || 0,
    turn: Number(s.turn) || 0,
    first_turn: Number(s.first_turn) || 0,
    last_turn: Number(s.last_turn) || 0,
    start: Number(s.start) || 0,
    end: Number(s.end) || 0,
    timestamp: str(s.timestamp),
    media_url: str(s.media_url),
    quotes: Array.isArray(s.quotes) ? s.quotes.filter((q) => typeof q === "string") : [],
  };
}

function cleanScope(s) {
  const scope = emptyScope();
  if (s && Array.isArray(s.transcripts)) {
    scope.transcripts = s.transcripts.filter((t) => t && typeof t.id === "string")
      .map((t) => ({ id: t.id, title: typeof t.title === "string" && t.title ? t.title : t.id }));
  }
  if (s && Array.isArray(s.speakers)) scope.speakers = s.speakers.filter((n) => typeof n === "string" && n);
  return scope;
}

function cleanTurn(t) {
  return {
    ...t,
    id: typeof t.id === "string" ? t.id : newId(),
    sources: Array.isArray(t.sources) ? t.sources.map(cleanSource) : [],
    citations: Array.isArray(t.citations) ? t.citations.map(Number) : [],
    scope: t.scope ? cleanScope(t.scope) : null,
    alternatives: typeof t.alternatives === "boolean" ? t.alternatives : null,
    excluded: Array.isArray(t.excluded) ? t.excluded.filter((v) => typeof v === "string") : [],
  };
}

function parse(raw) {
  try {
    const c = JSON.parse(raw || "null");
    if (!c || !Array.isArray(c.turns)) return null;
    const turns = c.turns
      .filter((t) => t && (t.role === "user" || t.role === "assistant") && typeof t.content === "string")
      .map(cleanTurn);
    const pending = c.pending && typeof c.pending.question === "string" ? { ...c.pending, scope: cleanScope(c.pending.scope) } : null;
    return {
      id: typeof c.id === "string" ? c.id : newId(),
      title: typeof c.title === "string" ? c.title : "",
      named: Boolean(c.named),
      created: Number(c.created) || 0,
      updated: Number(c.updated) || 0,
      turns,
      scope: cleanScope(c.scope),
      pending,
    };
  } catch {
    return null;
  }
}

function read(id) {
  try {
    return parse(localStorage.getItem(CHAT_PREFIX + id));
  } catch {
    return null;
  }
}

/** Show conversation `id` in this tab (false if it is not stored). */
export function open(id) {
  const stored = read(id);
  if (!stored) return false;
  chat = stored;
  tabState.chat = id;
  tabState.scope = undefined;
  writeTab();
  return true;
}

/** Start a new, empty conversation in this tab (the others stay in the list). */
export function startNew() {
  chat = blank();
  save();
}

/** Read the current conversation again (another tab changed it). */
export function reloadCurrent() {
  const stored = read(chat.id);
  if (stored) chat = stored;
}

/** The conversation this tab was on before a reload, or a new one; an old single conversation
 * (earlier versions kept one) becomes a saved conversation first. */
export function restoreTab() {
  migrateLegacy();
  if (tabState.chat && open(tabState.chat)) return;
  chat = blank(tabState.chat || newId());
  if (tabState.scope) chat.scope = cleanScope(tabState.scope);
  save();
}

function migrateLegacy() {
  try {
    const raw = localStorage.getItem(LEGACY_KEY);
    if (!raw) return;
    const old = parse(raw);
    localStorage.removeItem(LEGACY_KEY);
    if (!old || !old.turns.length) return;
    const c = { ...blank(), turns: old.turns };
    c.title = autoTitle(c);
    localStorage.setItem(CHAT_PREFIX + c.id, serialise(c));
  } catch { /* nothing to carry over */ }
}

/* ------------------------------------------------------------------ the list */

/** The saved conversations, newest first: {id, title, updated, text} (text: what search looks in). */
export function list() {
  const out = [];
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(CHAT_PREFIX)) continue;
      const c = parse(localStorage.getItem(key));
      if (!c) continue;
      out.push({
        id: key.slice(CHAT_PREFIX.length),
        title: c.title || autoTitle(c) || "Untitled chat",
        updated: c.updated,
        text: [c.title, ...c.turns.map((t) => t.content), c.pending ? c.pending.question : ""].join("\n"),
      });
    }
  } catch { /* storage unavailable: an empty list */ }
  return out.sort((a, b) => b.updated - a.updated);
}

export function rename(id, title) {
  const name = title.replace(/\s+/g, " ").trim().slice(0, 200);
  if (id === chat.id) {
    chat.named = Boolean(name);
    chat.title = name;
    save();
    return;
  }
  const c = read(id);
  if (!c) return;
  c.named = Boolean(name);
  c.title = name || autoTitle(c);
  try { localStorage.setItem(CHAT_PREFIX + id, serialise(c)); } catch { /* kept as it was */ }
}

/** Remove conversation `id`; returns what restore() needs to bring it back (null if not stored). */
export function remove(id) {
  let raw = null;
  try {
    raw = localStorage.getItem(CHAT_PREFIX + id);
    localStorage.removeItem(CHAT_PREFIX + id);
  } catch { /* nothing removed */ }
  return raw ? { id, raw } : null;
}

export function restore(removed) {
  try { localStorage.setItem(CHAT_PREFIX + removed.id, removed.raw); } catch { /* stays deleted */ }
}

/* ------------------------------------------------------------------ requests */

/** The conversation as the API wants it: the kept turns, then the new question, within the caps. */
export function requestMessages(question) {
  const messages = chat.turns.filter(isKept).map((t) => ({ role: t.role, content: t.content }));
  messages.push({ role: "user", content: question });
  let out = messages.slice(-limits.turns);
  let total = out.reduce((n, m) => n + m.content.length, 0);
  while (out.length > 1 && (total > limits.conversationChars || out[0].role !== "user")) {
    total -= out[0].content.length;
    out = out.slice(1);
  }
  return out;
}

/** The scope as the chat request's `filters` (null when nothing is chosen). */
export function filtersOf(scope) {
  if (!scope || (!scope.transcripts.length && !scope.speakers.length)) return null;
  const filters = {};
  if (scope.transcripts.length) filters.transcripts = scope.transcripts.map((t) => t.id);
  if (scope.speakers.length) filters.speakers = [...scope.speakers];
  return filters;
}

export function setScope(scope) {
  chat.scope = cleanScope(scope);
  save();
}

/** The question in flight (kept so that a reload can offer it again), or null once it is settled. */
export function setPending(question, scope) {
  chat.pending = question ? { question, scope: cleanScope(scope), at: Date.now(), tab: tabId } : null;
  save();
}
