// Suppressions: search an address, list with filters, add, remove, export as CSV.
import { ApiError, api, describe, get } from "./api.js";
import { clear, field, fmtTime, formData, h, notice, table } from "./dom.js";

// A spreadsheet runs a cell that starts with = + - @ (or a tab/CR): such a cell is quoted as text.
function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

export async function suppressionsView(root, context) {
  const message = h("div", { id: "suppression-message" });
  const list = h("div", { id: "suppression-list" });
  let filters = {};
  let cursors = [null];
  const remove = (s) => h("button", { type: "button", class: "small", onclick: async () => {
    try {
      await api("DELETE", `suppressions/${encodeURIComponent(s.email)}`);
      clear(message, notice("ok", `${s.email} may be sent to again.`));
      await draw();
    } catch (error) {
      clear(message, notice("error", describe(error)));
    }
  } }, "Remove");
  const rows = (items) => items.map((s) => [s.email, s.domain, s.reason, fmtTime(s.created_at),
    s.source_message_id ? h("a", { href: `#/messages/${encodeURIComponent(s.source_message_id)}` }, "message") : "—",
    context.caps.send ? remove(s) : ""]);
  const headings = ["Address", "Domain", "Reason", "Since", "Source", ""];
  const draw = async () => {
    if (filters.email) {
      try {
        const found = await get(`suppressions/${encodeURIComponent(filters.email)}`);
        clear(list, table(headings, rows(found.suppressions), ""));
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        clear(list, h("p", { class: "empty" }, `${filters.email} is not suppressed in this key's domains: mail to it is sent.`));
      }
      return;
    }
    const page = await get("suppressions", { ...filters, limit: 50, cursor: cursors[cursors.length - 1] });
    clear(list, table(headings, rows(page.suppressions),
      "No suppressed addresses. A hard bounce or a complaint adds one here; you can add one by hand too."),
    h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: cursors.length < 2, onclick: () => { cursors.pop(); draw(); } }, "Newer"),
      h("button", { type: "button", class: "secondary", disabled: !page.next_cursor, onclick: () => { cursors.push(page.next_cursor); draw(); } }, "Older")));
  };
  const exportCsv = async () => {
    const all = [];
    let cursor = null;
    do {
      const page = await get("suppressions", { ...filters, email: undefined, limit: 100, cursor });
      all.push(...page.suppressions);
      cursor = page.next_cursor;
    } while (cursor && all.length < 100000);
    const lines = [["email", "domain", "reason", "created_at", "source_message_id"].join(",")]
      .concat(all.map((s) => [s.email, s.domain, s.reason, s.created_at, s.source_message_id].map(csvCell).join(",")));
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" }));
    link.download = "suppressions.csv";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  };
  root.append(h("h1", {}, "Suppressions"),
    h("form", { class: "filters", role: "search", onsubmit: (event) => {
      event.preventDefault();
      filters = formData(event.currentTarget);
      cursors = [null];
      draw().catch((error) => clear(list, notice("error", describe(error))));
    } },
    h("div", { class: "grid" },
      field("Address", h("input", { name: "email", type: "search", placeholder: "someone@example.net" })),
      field("Domain", h("input", { name: "domain" })),
      field("Reason", h("select", { name: "reason" }, ["", "bounce", "complaint", "manual"].map((r) => h("option", { value: r }, r || "any"))))),
    h("button", { type: "submit" }, "Search"),
    h("button", { type: "button", class: "secondary", id: "export-csv", onclick: () => exportCsv().catch((error) => clear(message, notice("error", describe(error)))) }, "Export CSV")),
    message, list);
  if (context.caps.send) {
    root.append(h("form", { class: "card", id: "suppression-add", onsubmit: async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const values = formData(form);
      try {
        await api("POST", "suppressions", { body: { email: values.email, reason: "manual", ...(values.domain ? { domain: values.domain } : {}) } });
        form.reset();
        clear(message, notice("ok", `${values.email} is suppressed: nothing more is sent to it.`));
        await draw();
      } catch (error) {
        clear(message, notice("error", describe(error)));
      }
    } },
    h("h2", {}, "Suppress an address"),
    field("Address", h("input", { name: "email", type: "email", required: true })),
    field("Domain (empty: each of this key's domains)", h("input", { name: "domain" })),
    h("button", { type: "submit" }, "Suppress")));
  }
  await draw();
}
