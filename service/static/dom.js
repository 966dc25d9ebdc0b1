/* dom.js: the page's building blocks. It owns the h() helper, the icons, plural(), the safe link
 * rules (safeHref: only an http(s) address written out in full becomes a link), how a source is
 * named ("Speaker · Transcript") and the link to a recording at a time.
 *
 * Safety rule of the UI: text from the model or the transcripts only ever reaches the page
 * through textContent / createTextNode / createElement. There is no innerHTML anywhere.
 */

/* ------------------------------------------------------------------ DOM helpers */

/** createElement with a class, attributes and children; strings become text nodes. */
export function h(tag, props, ...children) {
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
export function icon(paths) {
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
export const ICONS = {
  info: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M12 11v5", "M12 7.5v.5"],
  warn: ["M12 4 2.8 19.5h18.4z", "M12 10v4.5", "M12 17v.5"],
  copy: ["M9 9h10v10H9z", "M5 15V5h10"],
  check: ["M5 12.5l4.5 4.5L19 7.5"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  edit: ["M4 20h4L19 9l-4-4L4 16z", "M13.5 6.5l4 4"],
  redo: ["M20 12a8 8 0 1 1-2.3-5.6", "M20 4v5h-5"],
  play: ["M8 5.5v13l10-6.5z"],
  trash: ["M5 7h14", "M10 7V4.5h4V7", "M7 7l1 13h8l1-13"],
  doc: ["M7 3h7l4 4v14H7z", "M14 3v4h4"],
  person: ["M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M4.5 20a7.5 7.5 0 0 1 15 0"],
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
export function safeHref(raw) {
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

export function link(label, href) {
  return h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", referrerpolicy: "no-referrer" }, label);
}

/* ------------------------------------------------------------------ naming sources */

/** "Speaker · Transcript title": what a source is called on cards, citations and in the reader. */
export function sourceHeading(s) {
  return [speakerOf(s), s.title || s.transcript].filter(Boolean).join(" · ");
}

export function speakerOf(s) {
  if (s.turn === 0) return "Introduction";
  return s.speaker || "Unnamed speaker";
}

/** A link to the recording at the passage's time, when the transcript names one. */
export function mediaLink(url, timestamp, who) {
  const href = url ? safeHref(url) : null;
  if (!href) return null;
  return h("a", {
    class: "media-link", href, target: "_blank", rel: "noopener noreferrer nofollow", referrerpolicy: "no-referrer",
    "aria-label": timestamp ? `Play the recording at ${timestamp}${who ? ` (${who})` : ""}` : `Open the recording${who ? ` (${who})` : ""}`,
  }, icon(ICONS.play), h("span", null, timestamp || "Recording"));
}

