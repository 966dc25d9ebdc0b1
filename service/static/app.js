/* Transcript chat: the browser side. Plain JS, no build step, no dependencies.
 *
 * Safety rule of this file: text from the model or the transcripts only ever reaches the page
 * through textContent / createTextNode / createElement. There is no innerHTML anywhere, and a
 * link is only made for an http(s) address written out in full (see safeHref).
 */
"use strict";

(() => {
  const STORAGE_KEY = "transcript-chat.conversation.v1";
  const MAX_MESSAGES = 50; // the API accepts at most 50 messages per request
  const TOP_K = 5;

  const $ = (id) => document.getElementById(id);
  const els = {
    main: $("main"),
    status: $("status"),
    statusText: $("status-text"),
    newChat: $("new-chat"),
    welcome: $("welcome"),
    startersBlock: $("starters-block"),
    starters: $("starters"),
    conversation: $("conversation"),
    form: $("composer"),
    input: $("question"),
    send: $("send"),
    stop: $("stop"),
    announcer: $("announcer"),
    dialog: $("passage"),
    dialogKicker: $("passage-kicker"),
    dialogTitle: $("passage-title"),
    dialogBody: $("passage-body"),
    dialogClose: $("passage-close"),
    dialogPrev: $("passage-prev"),
    dialogNext: $("passage-next"),
  };

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

  function plural(n, one, many) {
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
          onclick: (ev) => openPassage(ctx.turn, n, ev.currentTarget),
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

  /* ------------------------------------------------------------------ state and storage */

  let turns = []; // {id, role: "user"|"assistant"|"notice", ...}
  let busy = null; // {controller, turn, userTurn, question} while a request is in flight
  let nextId = 1;
  const newId = () => `t${Date.now().toString(36)}${(nextId++).toString(36)}`;

  function isKept(turn) {
    return (turn.role === "user" && turn.status === "ok") || (turn.role === "assistant" && turn.status === "done");
  }

  function save() {
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

  function cleanSource(s) {
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

  /** The conversation as the API wants it: every kept turn, then the new question. */
  function requestMessages(question) {
    const messages = turns.filter(isKept).map((t) => ({ role: t.role, content: t.content }));
    messages.push({ role: "user", content: question });
    return messages.slice(-MAX_MESSAGES);
  }

  /* ------------------------------------------------------------------ rendering turns */

  const turnEls = new Map(); // turn id -> element

  function nearBottom() {
    const m = els.main;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
  }
  function scrollToBottom(force) {
    if (force || stick) els.main.scrollTop = els.main.scrollHeight;
  }
  let stick = true;
  els.main.addEventListener("scroll", () => { stick = nearBottom(); }, { passive: true });

  function renderUser(turn) {
    return h("article", { class: `msg user${turn.status === "failed" ? " failed" : ""}`, "data-turn": turn.id },
      h("h3", { class: "visually-hidden" }, "You asked"),
      h("div", { class: "bubble" }, turn.content),
      turn.status === "failed" ? h("p", { class: "msg-note" }, "Not answered") : null,
    );
  }

  function sourceCard(turn, source) {
    const cited = turn.citations.includes(source.n);
    return h("li", null,
      h("button", {
        type: "button",
        class: `source-card${cited ? " cited" : ""}`,
        "aria-haspopup": "dialog",
        "data-n": source.n,
        onclick: (ev) => openPassage(turn, source.n, ev.currentTarget),
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

  function renderSources(turn) {
    if (!turn.sources.length) return null;
    const wrap = h("div", { class: "sources" });
    if (turn.abstained) {
      wrap.append(h("h4", { class: "sources-title" }, "Closest passages"),
        h("ol", { class: "source-list" }, turn.sources.map((s) => sourceCard(turn, s))));
      return wrap;
    }
    const cited = turn.sources.filter((s) => turn.citations.includes(s.n));
    const others = turn.sources.filter((s) => !turn.citations.includes(s.n));
    const main = turn.status === "done" && cited.length ? cited : turn.sources;
    wrap.append(h("h4", { class: "sources-title" }, main === cited ? "Sources" : "Passages found"),
      h("ol", { class: "source-list" }, main.map((s) => sourceCard(turn, s))));
    if (main === cited && others.length) {
      wrap.append(h("details", { class: "more-sources" },
        h("summary", null, `${plural(others.length, "other passage", "other passages")} searched`),
        h("ol", { class: "source-list" }, others.map((s) => sourceCard(turn, s)))));
    }
    return wrap;
  }

  function renderAnswerBody(turn) {
    const body = h("div", { class: "answer-text" });
    if (turn.content) body.append(renderRichText(turn.content, { sources: turn.sources, turn }));
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

  function renderAssistant(turn) {
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
    el.append(renderAnswerBody(turn));
    if (turn.status === "done" && turn.stopped) {
      el.append(h("p", { class: "msg-note" }, "Stopped before the answer was finished."));
    }
    if (turn.status === "done" && !turn.abstained && !turn.stopped && turn.verified === false) {
      el.append(h("p", { class: "msg-note warn" }, icon(ICONS.warn),
        "Some of this answer could not be matched to a cited passage. Check the sources before relying on it."));
    }
    const sources = renderSources(turn);
    if (sources) el.append(sources);
    if (turn.status === "done") {
      const meta = h("div", { class: "msg-meta" });
      if (turn.standalone_question) meta.append(h("span", { class: "searched" }, `Searched for: ${turn.standalone_question}`));
      if (turn.content && !turn.abstained) meta.append(copyButton(turn));
      if (meta.childElementCount) el.append(meta);
    }
    return el;
  }

  function renderNotice(turn) {
    const el = h("div", { class: `msg notice ${turn.kind}`, "data-turn": turn.id, role: turn.kind === "error" ? "alert" : "status" },
      h("p", { class: "notice-title" }, turn.kind === "error" ? icon(ICONS.warn) : icon(ICONS.info), turn.title),
      h("p", { class: "notice-text" }, turn.text));
    if (turn.retry) {
      el.append(h("button", { type: "button", class: "btn btn-small", onclick: () => send(turn.retry) }, "Try again"));
    }
    return el;
  }

  function renderTurn(turn) {
    if (turn.role === "user") return renderUser(turn);
    if (turn.role === "assistant") return renderAssistant(turn);
    return renderNotice(turn);
  }

  /** Insert or replace the element of one turn, keeping focus if it was inside (e.g. a citation). */
  function paint(turn) {
    const fresh = renderTurn(turn);
    const old = turnEls.get(turn.id);
    if (old && old.isConnected) old.replaceWith(fresh);
    else els.conversation.append(fresh);
    turnEls.set(turn.id, fresh);
    updateEmptyState();
    scrollToBottom(false);
    return fresh;
  }

  function unpaint(turn) {
    const el = turnEls.get(turn.id);
    if (el) el.remove();
    turnEls.delete(turn.id);
  }

  function paintAll() {
    for (const el of turnEls.values()) el.remove();
    turnEls.clear();
    for (const t of turns) paint(t);
    updateEmptyState();
    scrollToBottom(true);
  }

  function updateEmptyState() {
    const empty = turns.length === 0;
    els.welcome.hidden = !empty;
    els.conversation.hidden = empty;
    if (empty) loadStarters();
  }

  /* Streaming repaints are batched to one per animation frame. */
  let pendingFrame = 0;
  function repaintSoon(turn) {
    if (pendingFrame) return;
    pendingFrame = requestAnimationFrame(() => {
      pendingFrame = 0;
      const el = turnEls.get(turn.id);
      if (!el) return;
      const body = el.querySelector(".answer-text");
      if (body) body.replaceWith(renderAnswerBody(turn));
      el.dataset.tokenEvents = String(turn.tokenEvents || 0);
      scrollToBottom(false);
    });
  }

  function announce(text) {
    els.announcer.textContent = "";
    // A fresh node after a tick makes screen readers announce it even when the text repeats.
    setTimeout(() => { els.announcer.textContent = text; }, 50);
  }

  /* ------------------------------------------------------------------ passage dialog */

  let dialogState = null; // {turn, n, opener}

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

  function fillPassage() {
    const { turn, n } = dialogState;
    const index = turn.sources.findIndex((s) => s.n === n);
    const s = turn.sources[index];
    els.dialogKicker.textContent = `Source ${s.n} of ${turn.sources.length}${turn.citations.includes(s.n) ? " · cited in the answer" : ""}`;
    els.dialogTitle.textContent = s.title || s.transcript || "Transcript";
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
    els.dialogBody.replaceChildren(...body);
    els.dialogPrev.disabled = index <= 0;
    els.dialogNext.disabled = index >= turn.sources.length - 1;
  }

  function openPassage(turn, n, opener) {
    if (!turn.sources.some((s) => s.n === n)) return;
    dialogState = { turn, n, opener };
    fillPassage();
    if (!els.dialog.open) els.dialog.showModal();
    els.dialogBody.scrollTop = 0;
    els.dialogClose.focus();
  }

  function stepPassage(delta) {
    if (!dialogState) return;
    const { turn } = dialogState;
    const index = turn.sources.findIndex((s) => s.n === dialogState.n) + delta;
    if (index < 0 || index >= turn.sources.length) return;
    dialogState.n = turn.sources[index].n;
    fillPassage();
    (delta < 0 ? (els.dialogPrev.disabled ? els.dialogNext : els.dialogPrev) : (els.dialogNext.disabled ? els.dialogPrev : els.dialogNext)).focus();
  }

  els.dialogClose.addEventListener("click", () => els.dialog.close());
  els.dialogPrev.addEventListener("click", () => stepPassage(-1));
  els.dialogNext.addEventListener("click", () => stepPassage(1));
  els.dialog.addEventListener("click", (ev) => { if (ev.target === els.dialog) els.dialog.close(); });
  // Keep Tab inside the open dialog: past the last control it comes back to the first.
  els.dialog.addEventListener("keydown", (ev) => {
    if (ev.key !== "Tab") return;
    const stops = [...els.dialog.querySelectorAll("button, a[href], [tabindex]:not([tabindex='-1'])")]
      .filter((el) => !el.disabled && el.getClientRects().length);
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    if (ev.shiftKey && (document.activeElement === first || !els.dialog.contains(document.activeElement))) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && document.activeElement === last) {
      ev.preventDefault();
      first.focus();
    }
  });
  els.dialog.addEventListener("close", () => {
    const opener = dialogState && dialogState.opener;
    dialogState = null;
    if (opener && opener.isConnected) opener.focus();
  });

  /* ------------------------------------------------------------------ status line and starters */

  let healthTimer = 0;
  let healthFailures = 0;

  function setStatus(kind, text) {
    els.status.dataset.state = kind;
    els.statusText.textContent = text;
  }

  async function refreshHealth() {
    clearTimeout(healthTimer);
    try {
      const r = await fetch("/health", { cache: "no-store" });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const hl = await r.json();
      healthFailures = 0;
      const mode = hl.answer_mode === "llm"
        ? `answers by ${hl.llm_model || "a language model"}`
        : hl.answer_mode === "extractive" ? "built-in answers (quotes, no LLM)" : `answers: ${hl.answer_mode}`;
      const counts = `${plural(Number(hl.transcripts) || 0, "transcript", "transcripts")} · ${plural(Number(hl.chunks) || 0, "passage", "passages")} indexed`;
      if (hl.status === "ok") {
        setStatus("ok", `${counts} · ${mode}`);
      } else {
        setStatus("degraded", `${counts} · ${mode} · The transcript store is not answering right now, so questions may fail.`);
      }
      if (!turns.length) loadStarters();
      // Counts change when transcripts are added while the service runs: look again now and then.
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
      const r = await fetch("/v1/starters?n=4", { cache: "no-store" });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const { questions } = await r.json();
      const list = (Array.isArray(questions) ? questions : []).filter((q) => typeof q === "string" && q.trim());
      els.starters.replaceChildren(...list.map((q) =>
        h("li", null, h("button", { type: "button", class: "starter", onclick: () => send(q) }, q))));
      els.startersBlock.hidden = list.length === 0;
      startersState = "loaded";
    } catch {
      startersState = "none"; // try again with the next successful health check
    }
  }

  /* ------------------------------------------------------------------ talking to the API */

  class ApiError extends Error {
    constructor(title, text, retryable = true) {
      super(text);
      this.title = title;
      this.retryable = retryable;
    }
  }

  function describeHttpError(status, detail) {
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
  }

  async function consumeStream(response, turn) {
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
        paint(turn);
      } else if (event === "token") {
        if (typeof payload.text === "string" && payload.text) {
          turn.content += payload.text;
          turn.tokenEvents = (turn.tokenEvents || 0) + 1;
          repaintSoon(turn);
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

  async function ask(messages, turn, signal) {
    let response;
    try {
      response = await fetch("/v1/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream, application/json" },
        body: JSON.stringify({ messages, top_k: TOP_K, stream: true }),
        signal,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new ApiError("Can’t reach the service",
        "The chat service isn’t responding: it may be stopped or restarting. Check that it is running, then try again.");
    }
    if (!response.ok) throw describeHttpError(response.status, await errorDetail(response));
    const type = (response.headers.get("Content-Type") || "").toLowerCase();
    if (type.includes("text/event-stream")) {
      await consumeStream(response, turn);
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

  /* ------------------------------------------------------------------ sending */

  function setBusy(on) {
    els.send.hidden = on;
    els.stop.hidden = !on;
    els.form.classList.toggle("busy", on);
    if (on && document.activeElement === els.send) els.input.focus();
    if (!on && document.activeElement === els.stop) els.input.focus();
  }

  /** Drop the leftovers of failed attempts: a new question replaces them. */
  function clearTransient() {
    const gone = turns.filter((t) => t.role === "notice" || (t.role === "user" && t.status === "failed"));
    gone.forEach(unpaint);
    turns = turns.filter((t) => !gone.includes(t));
  }

  function restoreInput(question) {
    if (!els.input.value.trim()) {
      els.input.value = question;
      autoGrow();
    }
  }

  async function send(text) {
    const question = (text ?? els.input.value).trim();
    if (!question || busy) return;
    clearTransient();
    const userTurn = { id: newId(), role: "user", content: question, status: "ok" };
    const turn = { id: newId(), role: "assistant", content: "", sources: [], citations: [], status: "streaming" };
    const controller = new AbortController();
    const pending = ask(requestMessages(question), turn, controller.signal);
    busy = { controller, turn, userTurn, question };
    turns.push(userTurn, turn);
    if (text === undefined || els.input.value.trim() === question) {
      els.input.value = "";
      autoGrow();
    }
    setBusy(true);
    stick = true;
    paint(userTurn);
    paint(turn);
    scrollToBottom(true);
    try {
      await pending;
      turn.status = "done";
      paint(turn);
      save();
      announce(turn.abstained ? `Not covered by the transcripts. ${turn.content}` : turn.content);
    } catch (err) {
      if (controller.signal.aborted) {
        stopped(turn, userTurn, question);
      } else {
        failed(turn, userTurn, question, err);
      }
    } finally {
      busy = null;
      setBusy(false);
    }
  }

  function stopped(turn, userTurn, question) {
    if (turn.content.trim()) {
      turn.status = "done";
      turn.stopped = true;
      paint(turn);
      save();
      announce("Stopped.");
      return;
    }
    // Nothing arrived: take the question back so it can be edited or sent again.
    turns = turns.filter((t) => t !== turn && t !== userTurn);
    unpaint(turn);
    unpaint(userTurn);
    restoreInput(question);
    const notice = { id: newId(), role: "notice", kind: "stopped", title: "Stopped", text: "No answer was written. Your question is back in the box below." };
    turns.push(notice);
    paint(notice);
  }

  function failed(turn, userTurn, question, err) {
    turns = turns.filter((t) => t !== turn);
    unpaint(turn);
    userTurn.status = "failed";
    paint(userTurn);
    restoreInput(question);
    const apiErr = err instanceof ApiError ? err
      : new ApiError("Something went wrong", "The answer could not be shown. Try again.");
    const notice = {
      id: newId(),
      role: "notice",
      kind: "error",
      title: apiErr.title,
      text: `${apiErr.message} Your question is still in the box below.`,
      retry: apiErr.retryable ? question : null,
    };
    turns.push(notice);
    paint(notice);
    if (apiErr.title === "Can’t reach the service") refreshHealth();
    save();
  }

  function stop() {
    if (busy) busy.controller.abort();
  }

  function newChat() {
    stop();
    if (els.dialog.open) els.dialog.close();
    turns = [];
    save();
    paintAll();
    els.input.focus();
    announce("New chat started.");
  }

  /* ------------------------------------------------------------------ composer */

  function autoGrow() {
    const ta = els.input;
    ta.style.height = "auto";
    const max = Math.max(120, Math.floor(window.innerHeight * 0.4));
    ta.style.height = `${Math.min(ta.scrollHeight + 2, max)}px`;
    ta.classList.toggle("scrolls", ta.scrollHeight + 2 > max);
  }

  els.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    send();
  });
  els.input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    } else if (ev.key === "Escape" && busy) {
      ev.preventDefault();
      stop();
    }
  });
  els.input.addEventListener("input", autoGrow);
  window.addEventListener("resize", autoGrow);
  els.stop.addEventListener("click", stop);
  els.newChat.addEventListener("click", newChat);

  // Another tab changed the conversation: follow it when idle.
  window.addEventListener("storage", (ev) => {
    if (ev.key !== STORAGE_KEY || busy) return;
    turns = load();
    paintAll();
  });

  /* ------------------------------------------------------------------ start */

  turns = load();
  paintAll();
  autoGrow();
  refreshHealth();
  if (!matchMedia("(pointer: coarse)").matches) els.input.focus();
})();
