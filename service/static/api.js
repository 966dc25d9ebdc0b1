/* api.js: talking to the service. It owns the requests (/v1/chat as an SSE stream or one JSON body,
 * /health, /v1/starters, /v1/transcripts), the reading of server-sent events, the filling of an
 * answer turn from what comes back, and the turning of every failure into an ApiError whose title
 * and text are shown to the person. It touches no DOM: a streamed answer reports progress through
 * the `on` hooks ({sources(turn), token(turn)}) given to ask().
 */

import { cleanSource } from "./store.js";

const TOP_K = 5;
export const UNREACHABLE = "Can’t reach the service"; // the title of the error that means "is it running?"

class ApiError extends Error {
  constructor(title, text, retryable = true) {
    super(text);
    this.title = title;
    this.retryable = retryable;
  }
}

/** `err` as an ApiError: a thrown one as it is, anything else (a bug) as a generic one. */
export function asApiError(err) {
  return err instanceof ApiError ? err
    : new ApiError("Something went wrong", "The answer could not be shown. Try again.");
}

/** The server's words without the request field they name ("messages[-1].content: the question is…"). */
export function plainDetail(detail) {
  const text = String(detail || "")
    .replace(/(^|;\s*)(?:messages|filters|body|top_k|stream|exclude)(?:\[-?\d+\]|\.\w+)*:\s*/g, "$1")
    // the API's pointer for scripts; a person is told where to look instead
    .replace(/\.?\s*GET \/v1\/transcripts lists[^.]*\.?$/, ". The library lists the transcripts and their speakers; change the choice above the question box.")
    .trim();
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

function describeHttpError(status, rawDetail) {
  const detail = plainDetail(rawDetail);
  const said = detail ? ` ${detail.replace(/\s*$/, "")}${/[.!?]$/.test(detail.trim()) ? "" : "."}` : "";
  if (status >= 500) {
    return new ApiError("The service ran into a problem",
      `Something went wrong on the server while answering (error ${status}).${said} Try again in a moment.`);
  }
  if (status === 429) return new ApiError("Too many questions at once", `The service asked to slow down.${said} Wait a moment, then try again.`);
  if (status === 404) return new ApiError("The chat service was not found", `This page could not find the chat API (error 404).${said}`);
  return new ApiError("The question could not be answered as sent",
    `${said.trim() || "The service refused the request."} (error ${status})`, false);
}

async function errorDetail(response) {
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      if (typeof body.detail === "string") return body.detail;
      if (Array.isArray(body.detail)) return body.detail.map((d) => d && d.msg).filter(Boolean).join("; ");
    } catch { /* not JSON */ }
    return text && text.length < 300 && !/[<>]/.test(text) ? text.trim() : "";
  } catch {
    return "";
  }
}

/** Server-sent events from a fetch body: yields {event, data} for each complete event. */
async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const boundary = /\r\n\r\n|\n\n|\r\r/;
  let buf = "";
  const parse = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let m;
      while ((m = boundary.exec(buf))) {
        const ev = parse(buf.slice(0, m.index));
        buf = buf.slice(m.index + m[0].length);
        if (ev) yield ev;
      }
    }
    buf += decoder.decode();
    const ev = parse(buf);
    if (ev) yield ev;
  } finally {
    reader.releaseLock();
  }
}

function applyResponse(turn, body) {
  if (!body || typeof body.answer !== "string") {
    throw new ApiError("The reply could not be read", "The service sent an answer in a form this page does not understand.");
  }
  turn.content = body.answer;
  turn.abstained = Boolean(body.abstained);
  turn.sources = Array.isArray(body.sources) ? body.sources.map(cleanSource) : turn.sources;
  turn.citations = Array.isArray(body.citations) ? body.citations.map(Number) : [];
  turn.verified = body.verified !== false;
  turn.mode = typeof body.mode === "string" ? body.mode : "";
  turn.standalone_question = typeof body.standalone_question === "string" ? body.standalone_question : null;
  turn.alternatives = typeof body.alternatives === "boolean" ? body.alternatives : null;
}

async function consumeStream(response, turn, on) {
  turn.transport = "sse";
  let finished = false;
  for await (const { event, data } of readEvents(response.body)) {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      continue; // a keep-alive or something we do not understand
    }
    if (event === "sources") {
      turn.sources = Array.isArray(payload.sources) ? payload.sources.map(cleanSource) : [];
      if (typeof payload.standalone_question === "string") turn.standalone_question = payload.standalone_question;
      on.sources(turn);
    } else if (event === "token") {
      if (typeof payload.text === "string" && payload.text) {
        turn.content += payload.text;
        turn.tokenEvents = (turn.tokenEvents || 0) + 1;
        on.token(turn);
      }
    } else if (event === "done") {
      applyResponse(turn, payload);
      finished = true;
    } else if (event === "error") {
      const detail = typeof payload.detail === "string" ? payload.detail : "";
      throw new ApiError("The answer stopped part-way",
        `${detail ? detail.replace(/\s*$/, "") + (/[.!?]$/.test(detail.trim()) ? "" : ".") : "The service reported an error while writing the answer."} Try again in a moment.`);
    }
  }
  if (!finished) {
    throw new ApiError("The answer was cut off", "The connection closed before the answer was finished. Try again.");
  }
}

/** Ask /v1/chat and fill `turn` with the answer (streamed when the service streams); `filters`
 * ({transcripts, speakers}) limits what it may come from; `exclude`: passage ids not to answer
 * from (another answer than one given). */
export async function ask(messages, turn, signal, on, filters = null, exclude = null) {
  let response;
  try {
    response = await fetch("/v1/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream, application/json" },
      body: JSON.stringify({ messages, top_k: TOP_K, stream: true, ...(filters ? { filters } : {}),
        ...(exclude && exclude.length ? { exclude } : {}) }),
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new ApiError(UNREACHABLE,
      "The chat service isn’t responding: it may be stopped or restarting. Check that it is running, then try again.");
  }
  if (!response.ok) throw describeHttpError(response.status, await errorDetail(response));
  const type = (response.headers.get("Content-Type") || "").toLowerCase();
  if (type.includes("text/event-stream")) {
    await consumeStream(response, turn, on);
    return;
  }
  turn.transport = "json";
  let body;
  try {
    body = await response.json();
  } catch (err) {
    if (signal.aborted) throw err;
    throw new ApiError("The reply could not be read", "The service sent an answer this page could not read. Try again.");
  }
  applyResponse(turn, body);
}

/** /health as sent; throws when the service cannot be reached or does not answer 200. */
export async function getHealth() {
  const r = await fetch("/health", { cache: "no-store" });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
}

/** Up to `n` starter questions (non-empty strings); throws like getHealth. */
export async function getStarters(n) {
  const r = await fetch(`/v1/starters?n=${n}`, { cache: "no-store" });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const { questions } = await r.json();
  return (Array.isArray(questions) ? questions : []).filter((q) => typeof q === "string" && q.trim());
}

/** `?a=1&b=x` of the parameters that are set ("" when none is). */
function queryString(params) {
  const set = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return set.length ? `?${new URLSearchParams(set.map(([k, v]) => [k, String(v)]))}` : "";
}

/** GET /v1/transcripts: a page {transcripts: [...], total, transcript_count, speaker_count,
 * index_generation}; `params`: {offset, limit, speakers, q}; throws like getHealth. */
export async function getTranscripts(params = {}) {
  const r = await fetch(`/v1/transcripts${queryString(params)}`, { cache: "no-store" });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
}

/** GET /v1/transcripts/{id}: one transcript, a page of turns and of speakers (`params`: {offset,
 * limit, turn, speakers_offset, speakers_limit, speakers_q}); an Error whose `status` is 404 when
 * the index no longer has it. */
export async function getTranscript(id, params = {}) {
  const path = id.split("/").map(encodeURIComponent).join("/");
  const r = await fetch(`/v1/transcripts/${path}${queryString(params)}`, { cache: "no-store" });
  if (!r.ok) {
    const err = new Error(`HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return r.json();
}

/** POST /v1/topics: which transcripts and speakers talk about `topic` ({found, turns, transcripts,
 * speakers, cells, track}); `track`: a speaker whose statements on it are also listed. Throws an
 * ApiError in plain words. */
export async function postTopics(topic, track = null, signal = undefined) {
  let response;
  try {
    response = await fetch("/v1/topics", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ topic, ...(track ? { track } : {}) }),
      signal,
    });
  } catch (err) {
    if (signal && signal.aborted) throw err;
    throw new ApiError(UNREACHABLE, "The service isn’t responding: it may be stopped or restarting. Try again in a moment.");
  }
  if (!response.ok) throw describeHttpError(response.status, await errorDetail(response));
  return response.json();
}
