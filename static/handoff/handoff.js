// Handoff's own small script.
// The live socket (htmx ws extension) swaps a #live-signal element in when a referral changes.
// It carries the referral's new status tag, one <template> per interface language: every
// element marked data-status-of="ID" shows it at once. Then we turn the signal into DOM
// events that page fragments listen for, to re-fetch the rest through their own views:
// hx-trigger="referral-changed from:body" (any referral) or "referral-changed-ID from:body".
document.addEventListener("htmx:wsOpen", () => { window.__handoffWsOpen = true; });
document.addEventListener("htmx:wsClose", () => { window.__handoffWsOpen = false; });
document.addEventListener("htmx:oobAfterSwap", (event) => {
  const target = event.target;  // the element swapped in (detail.target is the old one)
  if (!target || target.id !== "live-signal") return;
  const id = target.dataset.referral;
  const lang = document.documentElement.lang;
  const tag = target.querySelector(`template[data-lang="${lang}"]`) || target.querySelector("template");
  if (tag) {
    document.querySelectorAll(`[data-status-of="${id}"]`).forEach((el) => {
      el.replaceChildren(tag.content.cloneNode(true));
    });
  }
  document.body.dispatchEvent(new CustomEvent("referral-changed", { detail: { id } }));
  document.body.dispatchEvent(new CustomEvent(`referral-changed-${id}`, { detail: { id } }));
});
