// Webhooks: create, edit, test, rotate the secret, deliveries with every attempt, replay.
import { api, describe, get } from "./api.js";
import { badge, clear, dl, field, fmtTime, formData, h, notice, secretOnce, table } from "./dom.js";
import { attemptsList } from "./messages.js";

const EVENTS = ["email.sent", "email.delivered", "email.delivery_delayed", "email.bounced", "email.complained",
  "email.opened", "email.clicked", "email.rejected", "email.rendering_failed", "email.subscription",
  "email.failed", "email.suppressed", "domain.paused", "domain.resumed"];

function eventChoices(chosen) {
  const all = chosen.includes("*");
  return h("fieldset", { class: "checks" }, h("legend", {}, "Events"),
    h("label", {}, h("input", { type: "checkbox", name: "events", value: "*", checked: all }), " every event (*)"),
    EVENTS.map((name) => h("label", {}, h("input", { type: "checkbox", name: "events", value: name, checked: !all && chosen.includes(name) }), ` ${name}`)));
}

function chosenEvents(form) {
  const values = [...form.querySelectorAll("input[name=events]:checked")].map((input) => input.value);
  return values.includes("*") ? ["*"] : values;
}

export async function webhooksView(root, context) {
  const message = h("div", { id: "webhook-message" });
  const list = h("div", { id: "webhook-list" });
  const draw = async () => {
    const { webhooks } = await get("webhooks");
    clear(list, table(["URL", "Events", "Domains", "Status", "Description"], webhooks.map((w) => [
      h("a", { href: `#/webhooks/${encodeURIComponent(w.webhook_id)}` }, w.url), w.events.join(", "), (w.domains || []).join(", "),
      badge(w.status), w.description || "",
    ]), "No webhooks yet: add your endpoint's URL to be told of deliveries, bounces and complaints."));
  };
  const create = h("form", { class: "card", id: "webhook-create", onsubmit: async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const values = formData(form);
    const body = { url: values.url, events: chosenEvents(form) };
    if (values.description) body.description = values.description;
    if (values.domains) body.domains = values.domains.split(/[\s,]+/).filter(Boolean);
    try {
      const created = await api("POST", "webhooks", { body });
      form.reset();
      clear(message, secretOnce(`Created the webhook for ${created.url}`, [["signing secret", created.secret]]));
      await draw();
    } catch (error) {
      clear(message, notice("error", describe(error)));
    }
  } },
  h("h2", {}, "Add a webhook"),
  field("URL (https)", h("input", { name: "url", type: "url", required: true, placeholder: "https://example.com/hooks/posthorn" })),
  eventChoices(["email.delivered", "email.bounced", "email.complained"]),
  field("Domains (comma-separated; empty: all of this key's)", h("input", { name: "domains" })),
  field("Description", h("input", { name: "description" })),
  h("button", { type: "submit" }, "Add"));
  root.append(h("h1", {}, "Webhooks"), message, list, create);
  await draw();
}

export async function webhookView(root, context, webhookId) {
  const id = encodeURIComponent(webhookId);
  const message = h("div", { id: "webhook-message" });
  const webhook = await get(`webhooks/${id}`);
  const deliveries = h("div", { id: "deliveries" });
  let cursors = [null];
  let status = "";
  const drawDeliveries = async () => {
    const page = await get(`webhooks/${id}/deliveries`, { status, limit: 25, cursor: cursors[cursors.length - 1] });
    clear(deliveries, table(["Event", "Message", "Status", "Attempts", "Next attempt", ""], page.deliveries.map((d) => [
      d.event_type,
      d.message_id ? h("a", { href: `#/messages/${encodeURIComponent(d.message_id)}` }, d.message_id) : "—",
      badge(d.status), attemptsList(d.attempts), fmtTime(d.next_attempt_at),
      h("button", { type: "button", class: "small", onclick: async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          await api("POST", `webhooks/${id}/deliveries/${encodeURIComponent(d.delivery_id)}/replay`);
          button.textContent = "Replayed";
          setTimeout(drawDeliveries, 800);
        } catch (error) {
          clear(message, notice("error", describe(error)));
        }
      } }, "Replay"),
    ]), "No deliveries yet: press Send test, or send a message from one of the webhook's domains."),
    h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: cursors.length < 2, onclick: () => { cursors.pop(); drawDeliveries(); } }, "Newer"),
      h("button", { type: "button", class: "secondary", disabled: !page.next_cursor, onclick: () => { cursors.push(page.next_cursor); drawDeliveries(); } }, "Older")));
  };
  const run = async (work) => {
    try {
      await work();
    } catch (error) {
      clear(message, notice("error", describe(error)));
    }
  };
  const edit = h("form", { class: "card", id: "webhook-edit", onsubmit: (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const values = formData(form);
    const body = { url: values.url, events: chosenEvents(form), description: values.description || "", status: values.status };
    run(async () => { await api("PATCH", `webhooks/${id}`, { body }); clear(message, notice("ok", "Saved.")); });
  } },
  h("h2", {}, "Edit"),
  field("URL", h("input", { name: "url", type: "url", required: true, value: webhook.url })),
  eventChoices(webhook.events),
  field("Description", h("input", { name: "description", value: webhook.description || "" })),
  field("Status", h("select", { name: "status" }, ["enabled", "disabled"].map((s) => h("option", { value: s, selected: webhook.status === s }, s)))),
  h("button", { type: "submit" }, "Save"));
  root.append(h("p", {}, h("a", { href: "#/webhooks" }, "← Webhooks")),
    h("h1", {}, webhook.url),
    dl([["Webhook id", h("code", {}, webhook.webhook_id)], ["Status", badge(webhook.status)], ["Events", webhook.events.join(", ")],
      ["Domains", (webhook.domains || []).join(", ")], ["Created", fmtTime(webhook.created_at)]]),
    h("div", { class: "actions" },
      h("button", { type: "button", id: "webhook-test", onclick: () => run(async () => {
        const sent = await api("POST", `webhooks/${id}/test`);
        clear(message, notice("ok", `Test event sent (delivery ${sent.delivery_id}).`));
        setTimeout(drawDeliveries, 800);
      }) }, "Send test"),
      h("button", { type: "button", class: "secondary", onclick: () => run(async () => {
        const rotated = await api("POST", `webhooks/${id}/secret`);
        clear(message, secretOnce("New signing secret (the old one also signs for 24 h)", [["signing secret", rotated.secret]]));
      }) }, "Rotate secret"),
      h("button", { type: "button", class: "danger", onclick: () => {
        if (confirm("Delete this webhook?")) run(async () => { await api("DELETE", `webhooks/${id}`); location.hash = "#/webhooks"; });
      } }, "Delete")),
    message, edit,
    h("h2", {}, "Deliveries"),
    h("label", { class: "field" }, h("span", {}, "Status"),
      h("select", { name: "delivery-status", onchange: (event) => { status = event.currentTarget.value; cursors = [null]; drawDeliveries(); } },
        ["", "pending", "succeeded", "failed"].map((s) => h("option", { value: s }, s || "any")))),
    deliveries);
  await drawDeliveries();
}
