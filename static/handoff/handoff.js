// Handoff's own small script.
// The live socket (htmx ws extension) swaps a #live-signal element in when a referral changes;
// we turn that into DOM events that page fragments listen for with
// hx-trigger="referral-changed from:body" (any referral) or "referral-changed-ID from:body".
document.addEventListener("htmx:wsOpen", () => { window.__handoffWsOpen = true; });
document.addEventListener("htmx:wsClose", () => { window.__handoffWsOpen = false; });
document.addEventListener("htmx:oobAfterSwap", (event) => {
  const target = event.target;  // the element swapped in (detail.target is the old one)
  if (!target || target.id !== "live-signal") return;
  const id = target.dataset.referral;
  document.body.dispatchEvent(new CustomEvent("referral-changed", { detail: { id } }));
  document.body.dispatchEvent(new CustomEvent(`referral-changed-${id}`, { detail: { id } }));
});
