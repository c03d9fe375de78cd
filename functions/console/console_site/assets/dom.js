// Building the page from data: every value becomes a text node or an attribute value, never markup.
// Nothing in the console parses a string as markup.

const SAFE_ATTRIBUTES = /^(?:class|id|scope|download|open|multiple|accept|maxlength|pattern|type|name|value|placeholder|for|href|title|role|tabindex|min|max|step|colspan|autocomplete|inputmode|spellcheck|required|checked|selected|disabled|readonly|hidden|rows|cols|size|list|src|sandbox|width|height|viewBox|d|x|y|x1|x2|y1|y2|cx|cy|r|fill|stroke|stroke-width|stroke-dasharray|points|text-anchor|dominant-baseline|aria-[a-z]+|data-[a-z-]+)$/;

export function h(tag, attributes = {}, ...children) {
  const svg = ["svg", "g", "path", "line", "rect", "circle", "text", "polyline", "title"].includes(tag);
  const element = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "onclick" || name === "onsubmit" || name === "onchange" || name === "oninput") {
      element.addEventListener(name.slice(2), value);
      continue;
    }
    if (!SAFE_ATTRIBUTES.test(name)) throw new Error(`attribute ${name} is not set by the console`);
    if (name === "href" && !/^(?:#|\.\.?\/|https?:)/.test(String(value))) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function fmtTime(value) {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function pct(value) {
  return `${(Number(value || 0) * 100).toFixed(2)} %`;
}

export function badge(text) {
  return h("span", { class: `badge badge-${String(text).replace(/[^a-z_]/g, "")}` }, text);
}

export function table(headings, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, headings.map((heading) => h("th", { scope: "col" }, heading)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))))));
}

export function dl(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]));
}

export function copyButton(text, label = "Copy") {
  return h("button", {
    type: "button", class: "small", "aria-label": `${label}: ${text}`,
    onclick: async (event) => {
      const button = event.currentTarget;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select and copy";
      }
      setTimeout(() => { button.textContent = label; }, 1500);
    },
  }, label);
}

export function notice(kind, ...children) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, children);
}

export function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

export function formData(form) {
  const values = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (typeof value === "string" && value.trim() !== "") values[name] = value.trim();
  }
  return values;
}

// A secret shown once: in a read-only field, selected, with a copy button and the warning.
export function secretOnce(title, pairs) {
  return notice("secret", h("strong", {}, title),
    h("p", {}, "Shown once: copy it now. It cannot be read again."),
    pairs.map(([name, value]) => h("div", { class: "secret-row" },
      field(name, h("input", { type: "text", readonly: true, value, class: "secret", spellcheck: "false", "data-secret": name })),
      copyButton(value))));
}
