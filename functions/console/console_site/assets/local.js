// Local-only panels (shown when the console runs on `make run`; the deployed stack has no /_local/ routes):
// the local SES's outbox with each message's bodies, SES Open/Click simulation, and how to connect.
import { describe, local, localUrl } from "./api.js";
import { badge, clear, copyButton, dl, fmtTime, h, notice, table } from "./dom.js";

function connectionPanel(connection) {
  const smtp = connection.smtp || {};
  return h("section", { class: "panel", id: "connection" },
    h("h2", {}, "Connection (local stack)"),
    dl([
      ["API", h("span", {}, h("code", {}, connection.api_url), " ", copyButton(connection.api_url))],
      ["Admin api_key", h("span", {}, h("code", {}, connection.admin_api_key), " ", copyButton(connection.admin_api_key),
        ` (${connection.admin_api_key_from})`)],
      ["SMTP relay", `${smtp.host}: ${smtp.starttls_port} (STARTTLS), ${smtp.tls_port} (TLS); AUTH ${(smtp.auth || []).join(", ")}`],
      ["SMTP username / password", `${smtp.username} / ${smtp.password}`],
      ["Local CA", h("a", { href: localUrl("ca.pem") }, "ca.pem")],
      ["API docs", h("a", { href: connection.docs }, connection.docs)],
      ["Embedded AWS", connection.aws_endpoint],
    ]));
}

export async function localView(root) {
  root.append(h("h1", {}, "Local outbox"),
    h("p", { class: "muted" }, "What the local SES received (make run only). Open a message for its bodies and to simulate opens and clicks."));
  const list = h("div", { id: "outbox" });
  const query = h("input", { type: "search", name: "q", placeholder: "subject, address, id or tag" });
  // Only what changed is redrawn, so the live refresh below neither flickers nor moves the page.
  let shown = null;
  const draw = async () => {
    const { messages } = await local("GET", "outbox", { query: { q: query.value.trim() } });
    const seen = JSON.stringify(messages.map((m) => [m.id, m.status, m.subject]));
    if (seen === shown) return;
    shown = seen;
    clear(list, table(["Received", "Subject", "From", "To", "Status", "Tags"], messages.map((m) => [
      fmtTime(m.received_at),
      m.posthorn_message_id
        ? h("a", { href: `#/messages/${encodeURIComponent(m.posthorn_message_id)}` }, m.subject || "(no subject)")
        : m.subject || "(no subject)",
      (m.from || []).join(", "), (m.to || m.rcpt_to || []).join(", "), m.status ? badge(m.status) : "—", (m.tags || []).join(", "),
    ]), "The outbox is empty: send a message (POST /v1/email, or SMTP on the relay's port) and it lands here."));
  };
  root.append(h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); draw(); } },
    h("div", { class: "primary-search" }, h("label", { class: "field" }, h("span", {}, "Search the outbox"), query),
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "button", class: "secondary", id: "clear-outbox", onclick: async () => {
        if (!confirm("Forget every message the local SES received? Posthorn's own records stay.")) return;
        await local("DELETE", "outbox");
        await draw();
      } }, "Clear outbox"))), list);
  await draw();
  root.append(connectionPanel(await local("GET", "connection")));
  live(list, draw);
}

// Mail sent while the view is open appears without a reload: the outbox is read again every two seconds
// while the list is on the page and the tab is visible; leaving the view (the list detached) stops it.
function live(list, draw) {
  const tick = async () => {
    if (!list.isConnected) return;
    if (!document.hidden) {
      try { await draw(); } catch { /* the stack stopped or the key was signed out: try again later */ }
    }
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
}

// The outbox copy of a Posthorn message: bodies (text, and HTML in a sandboxed frame), links, attachments,
// and buttons that make the local SES report an Open or a Click through the real events path.
export async function localMessagePanel(messageId, refresh) {
  const panel = h("section", { class: "panel", id: "local-panel" }, h("h2", {}, "Outbox copy (local stack only)"));
  const { messages } = await local("GET", "outbox", { query: { q: messageId } });
  const copies = messages.filter((m) => m.posthorn_message_id === messageId);
  if (!copies.length) {
    panel.append(h("p", { class: "empty" }, "The local SES has no copy of this message (it was not sent, or the outbox was cleared)."));
    return panel;
  }
  for (const copy of copies) {
    const view = await local("GET", `outbox/${encodeURIComponent(copy.id)}`);
    const status = h("p", { role: "status", class: "muted" });
    const act = async (path, body) => {
      try {
        await local("POST", `outbox/${encodeURIComponent(copy.id)}/${path}`, { body });
        status.textContent = "Reported through SNS to the events function; refreshing…";
        setTimeout(refresh, 400);
      } catch (error) {
        status.textContent = describe(error);
      }
    };
    const tracking = view.tracking || {};
    panel.append(h("div", { class: "outbox-copy" },
      dl([
        ["Envelope", `${view.mail_from} → ${(view.rcpt_to || []).join(", ")}`],
        ["Configuration set", tracking.configuration_set || "none"],
        ["Raw", h("a", { href: localUrl(`outbox/${encodeURIComponent(copy.id)}/raw`) }, "message/rfc822")],
      ]),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "simulate-open", disabled: !tracking.opens, onclick: () => act("open") }, "Simulate open"),
        tracking.reason ? h("span", { class: "muted" }, tracking.reason) : null),
      status,
      view.links.length
        ? h("ul", { class: "links" }, view.links.map((link) => h("li", {},
          h("button", { type: "button", class: "small", disabled: !tracking.clicks, onclick: () => act("click", { link }) }, "Simulate click"),
          " ", h("code", {}, link))))
        : h("p", { class: "muted" }, "No links in this message."),
      // Any URL, as a recipient's client may report one the body does not hold (a rewritten or typed link).
      h("form", { class: "actions", onsubmit: (event) => {
        event.preventDefault();
        const link = event.currentTarget.elements.link.value.trim();
        if (link) act("click", { link });
      } },
      h("label", { class: "field" }, h("span", {}, "Another link"),
        h("input", { type: "url", name: "link", id: "click-link", placeholder: "https://…", disabled: !tracking.clicks })),
      h("button", { type: "submit", class: "secondary", id: "simulate-click", disabled: !tracking.clicks }, "Simulate click")),
      view.html !== null
        ? h("div", {}, h("h3", {}, "HTML body"),
          h("iframe", { class: "preview", sandbox: "", title: "HTML body (sandboxed)", src: localUrl(`outbox/${encodeURIComponent(copy.id)}/preview`) }))
        : null,
      view.text !== null ? h("div", {}, h("h3", {}, "Text body"), h("pre", { class: "body-text" }, view.text)) : null,
      view.attachments.length
        ? h("div", {}, h("h3", {}, "Attachments"), h("ul", {}, view.attachments.map((a) => h("li", {},
          h("a", { href: localUrl(`outbox/${encodeURIComponent(copy.id)}/attachments/${a.index}`) }, a.filename || `part ${a.index}`),
          ` (${a.content_type}, ${a.size} bytes)`))))
        : null,
      h("details", {}, h("summary", {}, "Headers"),
        table(["Name", "Value"], view.headers.map((x) => [x.name, x.value]), "No headers."))));
  }
  return panel;
}

export { notice };
