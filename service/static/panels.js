/* panels.js: the chat list (#chats) and the library (#library) as side panels. On a wide screen
 * they sit beside the conversation (the chat list shown at start, the library when asked for);
 * on a narrower one each is a drawer over the page: the rest is inert while it is open, Escape or
 * the backdrop closes it, and focus goes back to the button that opened it.
 */

const WIDE = matchMedia("(min-width: 1100px)");
const $ = (id) => document.getElementById(id);

const panels = {}; // name -> {el, toggle, close, first}
let drawer = null; // the name of the panel open as a drawer
let onOpen = {};

const isOpen = (name) => !panels[name].el.hidden;
export const isWide = () => WIDE.matches;

function setInert(on) {
  for (const el of [document.querySelector(".center"), ...Object.values(panels).map((p) => p.el)]) {
    if (drawer && el === panels[drawer].el) continue;
    el.inert = on;
  }
  $("backdrop").hidden = !on;
  document.body.classList.toggle("drawer-open", on);
}

/** Tab past the last control of an open drawer comes back to its first (and Shift+Tab the other way). */
function keepTabInside(el, ev) {
  const stops = [...el.querySelectorAll("button, a[href], input, summary, [tabindex]:not([tabindex='-1'])")]
    .filter((x) => !x.disabled && x.getClientRects().length);
  if (!stops.length) return;
  const first = stops[0];
  const last = stops[stops.length - 1];
  if (ev.shiftKey && document.activeElement === first) {
    ev.preventDefault();
    last.focus();
  } else if (!ev.shiftKey && document.activeElement === last) {
    ev.preventDefault();
    first.focus();
  }
}

/** Open panel `name` ("chats" | "library"); `focus` moves focus into it. */
export function openPanel(name, { focus = true } = {}) {
  const p = panels[name];
  if (!WIDE.matches) {
    if (drawer && drawer !== name) closePanel(drawer, { restore: false });
    drawer = name;
  }
  p.el.hidden = false;
  p.toggle.setAttribute("aria-expanded", "true");
  if (drawer === name) setInert(true);
  if (onOpen[name]) onOpen[name]();
  if (focus) (WIDE.matches ? p.first : p.close).focus();
}

/** Close panel `name`; focus returns to its toggle when it was inside (or it was a drawer). */
export function closePanel(name, { restore = true } = {}) {
  const p = panels[name];
  if (p.el.hidden) return;
  const hadFocus = p.el.contains(document.activeElement);
  const wasDrawer = drawer === name;
  p.el.hidden = true;
  p.toggle.setAttribute("aria-expanded", "false");
  if (wasDrawer) {
    drawer = null;
    setInert(false);
  }
  if (restore && (hadFocus || wasDrawer)) p.toggle.focus();
}

/** A drawer closes itself after a choice that leaves it (opening a chat, reading a transcript). */
export function closeDrawer() {
  if (drawer) closePanel(drawer, { restore: false });
}

function layout() {
  if (drawer) {
    const name = drawer;
    drawer = null;
    setInert(false);
    if (!WIDE.matches) panels[name].el.hidden = true;
  }
  panels.chats.el.hidden = !WIDE.matches;
  if (!WIDE.matches) panels.library.el.hidden = true;
  for (const [, p] of Object.entries(panels)) p.toggle.setAttribute("aria-expanded", p.el.hidden ? "false" : "true");
}

/** Wire both panels (once, at start); `opened` holds callbacks run when a panel opens. */
export function setUpPanels(opened) {
  onOpen = opened || {};
  for (const name of ["chats", "library"]) {
    panels[name] = {
      el: $(name),
      toggle: $(`${name}-toggle`),
      close: $(`${name}-close`),
      first: $(name === "chats" ? "chat-search" : "library-search"),
    };
    const p = panels[name];
    p.toggle.addEventListener("click", () => (isOpen(name) ? closePanel(name) : openPanel(name)));
    p.close.addEventListener("click", () => closePanel(name));
    p.el.addEventListener("keydown", (ev) => {
      if (drawer !== name || ev.defaultPrevented) return;
      if (ev.key === "Escape") {
        ev.preventDefault();
        closePanel(name);
      } else if (ev.key === "Tab") {
        keepTabInside(p.el, ev);
      }
    });
  }
  $("backdrop").addEventListener("click", () => drawer && closePanel(drawer));
  WIDE.addEventListener("change", layout);
  layout();
  if (WIDE.matches && onOpen.chats) onOpen.chats();
}
