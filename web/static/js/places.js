// The name search box: a WAI-ARIA combobox over the public `search` process (typeahead).
// People know their commune (often its pre-2025 name), road or parcel, not coordinates.
import { execute } from "./api.js";
import { lang, t } from "./i18n.js";

const DELAY_MS = 180;

function describe(r) {
  if (r.kind === "parcel") {
    const former = r.formerName ? ` (${t("find.formerly", { name: r.formerName })})` : "";
    return [t("find.parcel", { thua: r.soThuTuThua, to: r.soHieuToBanDo }), `${r.name}${former}`];
  }
  if (r.kind === "formerCommune") return [r.name, t("find.nowIn", { district: r.district || "", now: r.now })];
  if (r.kind === "commune") return [r.name, `${r.kindLabel} · ${r.maXa}`];
  return [r.name, [r.kindLabel, r.detail, r.commune].filter(Boolean).join(" · ")];
}

/** Bind the box: `onPick(result)` runs when a result is chosen (click, Enter). */
export function bindPlaceSearch({ input, list, message, onPick }) {
  let results = [];
  let active = -1;
  let timer = null;
  let asked = 0;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };

  const mark = (index) => {
    active = index;
    for (const [i, li] of [...list.children].entries()) li.setAttribute("aria-selected", String(i === index));
    if (index >= 0) input.setAttribute("aria-activedescendant", `place-${index}`);
    else input.removeAttribute("aria-activedescendant");
  };

  const choose = (index) => {
    const r = results[index];
    if (!r) return;
    input.value = r.kind === "parcel" ? describe(r).join(", ") : r.name;
    close();
    onPick(r);
  };

  const draw = () => {
    list.replaceChildren();
    results.forEach((r, i) => {
      const [main, sub] = describe(r);
      const li = document.createElement("li");
      li.id = `place-${i}`;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.kind = r.kind;
      const strong = document.createElement("span");
      strong.className = "place-name";
      strong.textContent = main;
      const small = document.createElement("span");
      small.className = "place-detail";
      small.textContent = sub;
      li.append(strong, small);
      li.addEventListener("mousedown", (e) => e.preventDefault()); // keep the focus in the box
      li.addEventListener("click", () => choose(i));
      list.append(li);
    });
    list.hidden = results.length === 0;
    input.setAttribute("aria-expanded", String(results.length > 0));
  };

  const ask = async () => {
    const q = input.value.trim();
    const ticket = ++asked;
    if (q.length < 2) {
      results = [];
      draw();
      message.textContent = "";
      return;
    }
    try {
      const doc = await execute("search", { q: q.slice(0, 100), lang, limit: 8 });
      if (ticket !== asked) return; // a newer question is on its way
      results = doc.results || [];
      draw();
      mark(-1);
      message.textContent = results.length ? t("find.count", { n: results.length }) : t("find.none", { q });
    } catch (e) {
      if (ticket === asked) message.textContent = t("search.unavailable");
    }
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, DELAY_MS);
  });
  input.addEventListener("keydown", async (event) => {
    if (event.key === "ArrowDown" && results.length) {
      event.preventDefault();
      if (list.hidden) draw();
      mark((active + 1) % results.length);
    } else if (event.key === "ArrowUp" && results.length) {
      event.preventDefault();
      mark(active <= 0 ? results.length - 1 : active - 1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      if (active < 0) await ask();
      choose(active >= 0 ? active : 0);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
}
