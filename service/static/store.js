/* store.js: the conversation. It owns the list of turns ({id, role: "user"|"assistant"|"notice",
 * ...}), their ids, the cleaning of sources that come from the service or from storage, the copy
 * kept in localStorage (only finished questions and answers, under STORAGE_KEY) and the messages a
 * request sends. It touches no DOM.
 */

export const STORAGE_KEY = "transcript-chat.conversation.v1";
const MAX_MESSAGES = 50; // the API accepts at most 50 messages per request

let turns = [];
let nextId = 1;
export const newId = () => `t${Date.now().toString(36)}${(nextId++).toString(36)}`;

/** The turns, oldest first (the array itself: read it, change it through the functions below). */
export function allTurns() {
  return turns;
}

export function addTurns(...added) {
  turns.push(...added);
}

export function removeTurns(...removed) {
  turns = turns.filter((t) => !removed.includes(t));
}

export function clearTurns() {
  turns = [];
}

/** Take out the leftovers of failed attempts (notices, unanswered questions); returns them. */
export function dropTransient() {
  const gone = turns.filter((t) => t.role === "notice" || (t.role === "user" && t.status === "failed"));
  turns = turns.filter((t) => !gone.includes(t));
  return gone;
}

function isKept(turn) {
  return (turn.role === "user" && turn.status === "ok") || (turn.role === "assistant" && turn.status === "done");
}

export function save() {
  const kept = turns.filter(isKept);
  try {
    if (kept.length) localStorage.setItem(STORAGE_KEY, JSON.stringify({ version: 1, turns: kept }));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage full or disabled: keep the oldest half out and try once more, else give up quietly.
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ version: 1, turns: kept.slice(Math.floor(kept.length / 2)) }));
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
    text: str(s.text),
    score: Number(s.score) || 0,
    turn: Number(s.turn) || 0,
    start: Number(s.start) || 0,
    end: Number(s.end) || 0,
    timestamp: str(s.timestamp),
    quotes: Array.isArray(s.quotes) ? s.quotes.filter((q) => typeof q === "string") : [],
  };
}

function load() {
  try {
    const raw = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    if (!raw || !Array.isArray(raw.turns)) return [];
    return raw.turns
      .filter((t) => t && (t.role === "user" || t.role === "assistant") && typeof t.content === "string")
      .map((t) => ({
        ...t,
        id: typeof t.id === "string" ? t.id : newId(),
        sources: Array.isArray(t.sources) ? t.sources.map(cleanSource) : [],
        citations: Array.isArray(t.citations) ? t.citations.map(Number) : [],
      }));
  } catch {
    return [];
  }
}

/** Replace the turns with the stored conversation (at start, and when another tab changed it). */
export function reload() {
  turns = load();
}

/** The conversation as the API wants it: every kept turn, then the new question. */
export function requestMessages(question) {
  const messages = turns.filter(isKept).map((t) => ({ role: t.role, content: t.content }));
  messages.push({ role: "user", content: question });
  return messages.slice(-MAX_MESSAGES);
}
