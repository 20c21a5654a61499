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

// A closed <select> changes with each arrow key. Marked here, such a change searches once the
// keys stop (the directory form's hx-trigger delays "change[!!target.dataset.keyed]"; an htmx
// filter must give true itself, not a truthy string), not once per key with a history entry
// each. A pick with the mouse clears the mark and searches at once.
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLSelectElement) event.target.dataset.keyed = "true";
}, true);
document.addEventListener("pointerdown", (event) => {
  if (event.target instanceof HTMLSelectElement) delete event.target.dataset.keyed;
}, true);

// A form marked data-search-once does not send the search it sent last. Leaving the words box
// fires "change" for words already searched as they were typed, and Enter typed before the pause
// is followed by the pause's own search: each one a second request and a second history entry,
// and when the repeat came back before the next search it was a race with that one. A request
// that failed may be sent again.
const formQuery = (form) => new URLSearchParams(new FormData(form)).toString();
const lastSent = new WeakMap();  // form -> the query it last sent (or was loaded with)
const lastRequest = new WeakMap();  // form -> that query's request
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-search-once]").forEach((form) => lastSent.set(form, formQuery(form)));
});
document.addEventListener("htmx:confirm", (event) => {
  const form = event.detail.elt;
  if (!(form instanceof HTMLFormElement) || !("searchOnce" in form.dataset)) return;
  const query = formQuery(form);
  if (lastSent.get(form) === query) event.preventDefault();
  else lastSent.set(form, query);
});
document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.detail.elt;
  if (form instanceof HTMLFormElement && "searchOnce" in form.dataset) lastRequest.set(form, event.detail.xhr);
});
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (!(form instanceof HTMLFormElement) || event.detail.successful) return;
  if (lastRequest.get(form) === event.detail.xhr) lastSent.delete(form);  // not one replaced by a newer search
});

// A link marked data-focus-after-swap="SELECTOR" (the pages of search results) brings the view
// and the focus to that element once its content is in: before, the page stayed scrolled at
// the bottom with the focus lost on <body>.
document.addEventListener("htmx:afterSwap", (event) => {
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  const selector = source && source.dataset ? source.dataset.focusAfterSwap : null;
  if (!selector) return;
  const element = document.querySelector(selector);
  if (!element || document.activeElement === element) return;
  element.focus({ preventScroll: true });
  element.scrollIntoView({ block: "start" });
});

// Filters folded away on a phone open when an update brings an error to show at its field.
document.addEventListener("htmx:afterSettle", () => {
  const filters = document.getElementById("search-filters");
  if (filters && !filters.open && filters.querySelector(".usa-form-group--error")) filters.open = true;
});

// Widened past a phone's width (a turned tablet, a resized window), the filters open again:
// there the "Filters" toggle is hidden, so folded filters could not be opened.
window.matchMedia("(min-width: 40em)").addEventListener("change", (event) => {
  const filters = document.getElementById("search-filters");
  if (filters && event.matches) filters.open = true;
});

// A field group sent out of band (the directory's filters: an error to show at its field, or
// one to clear) is patched in place, never swapped: replacing the control a person is typing in
// blurs it (the browser then fires "change", a second search and history entry) and drops the
// listeners bound to it. Only the group's error state changes: its classes, the message, and
// the control's class and aria attributes; the control itself, its value and the focus stay as they are.
// A group whose error is unchanged is left alone, so a message is announced once, not per search.
const errorOf = (group) =>
  Array.from(group.querySelectorAll(".usa-error-message"), (e) => e.textContent.trim()).join("|");

document.addEventListener("htmx:oobBeforeSwap", (event) => {
  const current = event.detail.target;
  const incoming = event.detail.fragment && event.detail.fragment.firstElementChild;
  if (!current || !current.id || !current.id.startsWith("group-") || !incoming) return;
  event.detail.shouldSwap = false;
  const wrapper = incoming.id === current.id ? incoming : incoming.querySelector(`#${current.id}`) || incoming;
  if (errorOf(wrapper) === errorOf(current)) return;
  const now = current.firstElementChild;
  const next = wrapper.firstElementChild;
  if (!now || !next) return;
  now.className = next.className;
  const nowLabel = now.querySelector(":scope > label");
  const nextLabel = next.querySelector(":scope > label");
  if (nowLabel && nextLabel) nowLabel.className = nextLabel.className;
  now.querySelectorAll(":scope > .usa-error-message").forEach((message) => message.remove());
  const control = now.querySelector("input[id], select[id], textarea[id]");
  const nextControl = control && next.querySelector(`#${CSS.escape(control.id)}`);
  // Where the message goes: before the control, or before the block holding it (a checkbox).
  let anchor = control;
  while (anchor && anchor.parentElement !== now) anchor = anchor.parentElement;
  next.querySelectorAll(":scope > .usa-error-message").forEach((message) => {
    now.insertBefore(document.importNode(message, true), anchor || null);
  });
  if (control && nextControl) {
    for (const name of ["aria-invalid", "aria-describedby", "class"]) {
      if (nextControl.hasAttribute(name)) control.setAttribute(name, nextControl.getAttribute(name));
      else control.removeAttribute(name);
    }
  }
});
