// Messages: search (GET /v1/messages, newest first, paged) and one message with everything recorded of it.
import { ApiError, api, describe, get } from "./api.js";
import { badge, clear, copyButton, dl, field, fmtTime, formData, h, notice, table } from "./dom.js";
import { localMessagePanel } from "./local.js";

const STATUSES = ["", "queued", "sent", "delivery_delayed", "delivered", "opened", "clicked", "bounced",
  "complained", "rejected", "failed", "suppressed"];
// The search as last made in this tab (kept while a message is open; gone with the tab).
let search = { filters: {}, cursors: [null] };

function toIso(value) {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

function filterForm(onSearch) {
  const f = search.filters;
  const input = (name, attrs = {}) => h("input", { name, value: f[name] || "", ...attrs });
  const select = (name, options) => h("select", { name }, options.map((option) =>
    h("option", { value: option, selected: (f[name] || "") === option }, option || "any")));
  const form = h("form", { class: "filters", role: "search", onsubmit: (event) => {
    event.preventDefault();
    search = { filters: formData(event.currentTarget), cursors: [null] };
    onSearch();
  } },
  h("div", { class: "primary-search" },
    field("Recipient", input("recipient", { type: "search", placeholder: "someone@example.net", autocomplete: "off", id: "recipient-search" })),
    h("button", { type: "submit" }, "Search")),
  h("details", { open: Object.keys(f).some((k) => k !== "recipient") || undefined },
    h("summary", {}, "More filters"),
    h("div", { class: "grid" },
      field("Status", select("status", STATUSES)),
      field("Tag", input("tag")),
      field("Client reference", input("client_reference")),
      field("From", input("from_email", { type: "search" })),
      field("Since", input("since", { type: "datetime-local" })),
      field("Until", input("until", { type: "datetime-local" })),
      field("Source", select("source", ["", "api", "smtp"]))),
    h("button", { type: "button", class: "secondary", onclick: () => { search = { filters: {}, cursors: [null] }; onSearch(true); } }, "Clear filters")));
  return form;
}

function recipientsCell(recipients) {
  return h("ul", { class: "plain" }, (recipients || []).map((r) => h("li", {}, `${r.email} `, badge(r.status))));
}

export async function messagesView(root, context) {
  const results = h("div", { id: "message-results", "aria-live": "polite" });
  const draw = async (rebuild) => {
    if (rebuild) {
      clear(root);
      root.append(h("h1", {}, "Messages"), filterForm(() => draw()), results);
      root.querySelector("#recipient-search").focus();  // the first of the two actions: type the address
    }
    clear(results, h("p", { class: "muted" }, "Loading…"));
    const f = search.filters;
    const cursor = search.cursors[search.cursors.length - 1];
    let page;
    try {
      page = await get("messages", { ...f, since: toIso(f.since), until: toIso(f.until), limit: 25, cursor });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error;
      clear(results, notice("error", describe(error)));
      return;
    }
    const filtered = Object.keys(f).length > 0;
    const empty = filtered
      ? "No message matches these filters. Check the address (the whole address, any case), or clear the filters."
      : "No messages yet. Send one with POST /v1/email (or over SMTP) from one of this key's domains, and it shows here.";
    const rows = page.messages.map((m) => [
      fmtTime(m.created_at),
      h("a", { href: `#/messages/${encodeURIComponent(m.message_id)}`, class: "subject" }, m.subject || "(no subject)"),
      m.from_email,
      recipientsCell(m.recipients),
      badge(m.status),
      (m.tags || []).join(", "),
      m.source,
    ]);
    clear(results, table(["Created", "Subject", "From", "Recipients", "Status", "Tags", "Source"], rows, empty),
      h("div", { class: "pager" },
        h("button", { type: "button", class: "secondary", disabled: search.cursors.length < 2, onclick: () => { search.cursors.pop(); draw(); } }, "Newer"),
        h("span", { class: "muted" }, `Page ${search.cursors.length}`),
        h("button", { type: "button", class: "secondary", disabled: !page.next_cursor, onclick: () => { search.cursors.push(page.next_cursor); draw(); } }, "Older")));
  };
  await draw(true);
}

async function deliveriesOf(messageId) {
  // The API lists deliveries per webhook: the latest 100 of each, this message's kept.
  const { webhooks } = await get("webhooks");
  const found = [];
  await Promise.all(webhooks.map(async (webhook) => {
    const { deliveries } = await get(`webhooks/${encodeURIComponent(webhook.webhook_id)}/deliveries`, { limit: 100 });
    for (const delivery of deliveries) if (delivery.message_id === messageId) found.push({ webhook, delivery });
  }));
  return found;
}

export function attemptsList(attempts) {
  if (!attempts || !attempts.length) return h("span", { class: "muted" }, "not tried yet");
  return h("ol", { class: "attempts" }, attempts.map((a) => h("li", {},
    `${fmtTime(a.at)} · ${a.http_status ?? "no answer"} · ${a.duration_ms ?? "?"} ms`,
    a.error ? h("span", { class: "attempt-error" }, ` · ${a.error}`) : null)));
}

export async function messageView(root, context, messageId) {
  root.append(h("p", {}, h("a", { href: "#/messages" }, "← Messages")));
  let message;
  try {
    message = await get(`messages/${encodeURIComponent(messageId)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      root.append(notice("error", "No such message for this key (it may belong to another key's domains, or has expired)."));
      return;
    }
    throw error;
  }
  root.append(
    h("h1", { class: "subject" }, message.subject || "(no subject)"),
    dl([
      ["Message id", h("span", {}, h("code", {}, message.message_id), " ", copyButton(message.message_id))],
      ["Status", badge(message.status)],
      ["Created", fmtTime(message.created_at)],
      ["From", message.from_email],
      ["Source", message.source],
      ["Client reference", message.client_reference],
      ["SES message id", message.ses_message_id],
      ["Tags", (message.tags || []).length ? h("ul", { class: "tags" }, message.tags.map((t) => h("li", {}, t))) : "none"],
    ]),
    h("h2", {}, "Recipients"),
    table(["Address", "Type", "Status"], message.recipients.map((r) => [r.email, r.type, badge(r.status)]), "No recipients."),
    h("h2", {}, "Metadata"),
    table(["Key", "Value"], Object.entries(message.metadata || {}).map(([k, v]) => [h("code", {}, k), v]), "No metadata was sent with this message."),
    h("h2", {}, "Events"),
    message.events.length
      ? h("ol", { class: "timeline" }, message.events.map((e) => h("li", {},
        h("time", {}, fmtTime(e.timestamp)), " ", badge(e.type), " ", e.recipient || "",
        Object.keys(e.details || {}).length ? h("pre", { class: "details" }, JSON.stringify(e.details, null, 2)) : null)))
      : h("p", { class: "empty" }, "No events yet: SES reports Send, then Delivery (or a bounce) within seconds to minutes."),
  );
  const hooks = h("section", { id: "message-deliveries" }, h("h2", {}, "Webhook deliveries"));
  root.append(hooks);
  if (!context.caps.webhooks) {
    hooks.append(h("p", { class: "muted" }, "This key has no webhooks permission, so deliveries are not shown."));
  } else {
    const found = await deliveriesOf(message.message_id);
    hooks.append(table(["Webhook", "Event", "Status", "Attempts", ""], found.map(({ webhook, delivery }) => [
      h("a", { href: `#/webhooks/${encodeURIComponent(webhook.webhook_id)}` }, webhook.url),
      delivery.event_type, badge(delivery.status), attemptsList(delivery.attempts),
      h("button", { type: "button", class: "small", onclick: async (event) => {
        event.currentTarget.disabled = true;
        await api("POST", `webhooks/${encodeURIComponent(webhook.webhook_id)}/deliveries/${encodeURIComponent(delivery.delivery_id)}/replay`);
        event.currentTarget.textContent = "Replayed";
      } }, "Replay"),
    ]), "No webhook delivery for this message (no webhook listens to its domain and events, or none yet)."));
  }
  if (context.caps.local) root.append(await localMessagePanel(message.message_id, () => {
    clear(root);
    return messageView(root, context, messageId);
  }));
}
