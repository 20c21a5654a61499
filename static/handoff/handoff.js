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

// A field group swapped in out of band (the directory's filters, to show an error at its field)
// keeps what is in the field now: the server echoes what was sent, and the person may have typed
// on, or changed another field, while the request was out. That change sends its own request.
document.addEventListener("htmx:oobBeforeSwap", (event) => {
  const incoming = event.detail.fragment;
  if (!incoming || !incoming.querySelectorAll) return;
  incoming.querySelectorAll("input[id], select[id], textarea[id]").forEach((field) => {
    const current = document.getElementById(field.id);
    if (!current || current.type === "hidden") return;
    if (current.type === "checkbox" || current.type === "radio") {
      field.checked = current.checked;
      field.toggleAttribute("checked", current.checked);
    } else if (field instanceof HTMLSelectElement) {
      for (const option of field.options) {
        option.selected = option.value === current.value;
        option.toggleAttribute("selected", option.selected);
      }
    } else {
      field.value = current.value;
      field.setAttribute("value", current.value);
    }
  });
});
