/* composer.js: the question box. It owns Enter (send) / Shift+Enter (a new line) / Escape (stop),
 * growing with its text, the character counter against the service's limit (a longer question is
 * stopped here, before it is sent), and the hint line that says why a question was not sent.
 */

const $ = (id) => document.getElementById(id);
const els = { form: $("composer"), input: $("question"), hint: $("composer-hint"), counter: $("counter") };
const HINT = els.hint.textContent;
const COUNTER_FROM = 0.8; // the counter shows from this share of the limit
let limit = 2000; // the service's max_question_chars (/health), this until it says
let hooks = { send: () => {}, stop: () => {}, busy: () => false, announce: () => {} };

export const input = els.input;

// The skip link moves focus itself: a fragment link focuses its target only when the browser gets
// round to it, which under load can be after the next key press (and then the key goes elsewhere).
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  els.input.focus();
});
const chars = (text) => [...text].length; // code points, as the service counts them

export function setLimit(n) {
  if (Number.isInteger(n) && n > 0) limit = n;
  updateCounter();
}

export function autoGrow() {
  const ta = els.input;
  ta.style.height = "auto";
  const max = Math.max(120, Math.floor(window.innerHeight * 0.4));
  ta.style.height = `${Math.min(ta.scrollHeight + 2, max)}px`;
  ta.classList.toggle("scrolls", ta.scrollHeight + 2 > max);
}

function setHint(text, kind = "") {
  els.hint.textContent = text || HINT;
  els.hint.dataset.kind = kind;
}

function updateCounter() {
  const n = chars(els.input.value.trim());
  const over = n - limit;
  els.counter.hidden = n < limit * COUNTER_FROM;
  els.counter.textContent = over > 0
    ? `${n.toLocaleString()} / ${limit.toLocaleString()} characters: ${over.toLocaleString()} too many`
    : `${n.toLocaleString()} / ${limit.toLocaleString()} characters`;
  els.counter.dataset.over = over > 0 ? "true" : "false";
  els.input.setAttribute("aria-invalid", over > 0 ? "true" : "false");
  if (over <= 0 && els.hint.dataset.kind === "too-long") setHint("");
}

/** True when `question` may be sent; otherwise says why (the hint and the screen reader) and false. */
export function checkLength(question) {
  const over = chars(question) - limit;
  if (over <= 0) return true;
  const text = `This question is ${chars(question).toLocaleString()} characters long; the limit is ${limit.toLocaleString()}. ` +
    `Shorten it by ${over.toLocaleString()} to send it.`;
  setHint(text, "too-long");
  hooks.announce(text);
  return false;
}

/** Enter while an answer is being written: say so instead of doing nothing. */
export function refuseWhileBusy() {
  const text = "An answer is still being written. Press Escape or Stop to stop it, then send your question.";
  setHint(text, "busy");
  hooks.announce(text);
}

export function clearHint() {
  if (els.hint.dataset.kind === "busy") setHint("");
}

/** Put `question` back in the box, unless the person has typed something else meanwhile. */
export function restoreInput(question) {
  if (!els.input.value.trim()) {
    els.input.value = question;
    autoGrow();
    updateCounter();
  }
}

export function clearInput() {
  els.input.value = "";
  autoGrow();
  updateCounter();
}

/** Wire the box (once, at start); `given`: {send(), stop(), busy(), announce(text)}. */
export function setUpComposer(given) {
  hooks = { ...hooks, ...given };
  els.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    hooks.send();
  });
  els.input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
      ev.preventDefault();
      hooks.send();
    } else if (ev.key === "Escape" && hooks.busy()) {
      ev.preventDefault();
      hooks.stop();
    }
  });
  els.input.addEventListener("input", () => {
    autoGrow();
    updateCounter();
  });
  window.addEventListener("resize", autoGrow);
  autoGrow();
  updateCounter();
}
