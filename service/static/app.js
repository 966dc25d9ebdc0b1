"use strict";
const $ = (id) => document.getElementById(id);
fetch("/health").then((r) => r.json()).then((h) => {
  $("status").textContent = `${h.transcripts} transcript(s), ${h.chunks} passages indexed · answers: ${h.answer_mode}`;
}).catch(() => { $("status").textContent = "The service is not reachable."; });
$("ask").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("answer").textContent = "Searching…";
  $("sources").replaceChildren();
  try {
    const r = await fetch("/v1/chat", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: question }] }) });
    const body = await r.json();
    if (!r.ok) { $("answer").textContent = `Error: ${body.detail}`; return; }
    $("answer").textContent = body.answer;
    $("answer").className = body.abstained ? "abstained" : "";
    for (const s of body.sources) {
      const li = document.createElement("li");
      const q = document.createElement("div"); q.className = "q"; q.textContent = `Q: ${s.question}`;
      const t = document.createElement("div"); t.textContent = `${s.speaker}: ${s.text}`;
      li.append(q, t); $("sources").append(li);
    }
  } catch (e) { $("answer").textContent = "The service could not be reached. Try again."; }
});
