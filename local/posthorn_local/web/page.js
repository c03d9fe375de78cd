// The local outbox page. Plain DOM: every value from a message is set as text (never as markup); the HTML
// body goes only into the sandboxed iframe's srcdoc. Polls every 2 s while the tab is visible.
"use strict";

(() => {
  const POLL_MS = 2000;
  const $ = (id) => document.getElementById(id);
  const state = {
    selected: null, // outbox id
    listKey: "",
    shownId: null, // the message whose iframe, text, headers and links are rendered
    detailKey: "",
    timer: null,
    // The body tab the reader chose ("html" until they pick "text"): each new message opens on it when
    // it has that body, else on the other one; a message without HTML never changes the choice.
    bodyTab: "html",
    items: {}, // outbox id -> its list item (with what Posthorn recorded: tags, domain, ...)
    domainKey: "",
  };

  // ------------------------------------------------------------------------------------------ helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function pill(status) {
    return el("span", { class: `pill s-${status || "none"}`, "data-status": status || "" }, status || "—");
  }

  function bytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  function ago(iso) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 5) return "just now";
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return new Date(iso).toLocaleDateString();
  }

  function clock(iso) {
    const d = new Date(iso);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  async function getJson(url, options) {
    const response = await fetch(url, { cache: "no-store", ...options });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`;
      throw new Error(message);
    }
    return body;
  }

  function setLive(ok, text) {
    $("live").classList.toggle("down", !ok);
    $("live-text").textContent = text;
  }

  // ------------------------------------------------------------------------------------------ the list
  function renderList(messages) {
    state.items = Object.fromEntries(messages.map((m) => [m.id, m]));
    const key = JSON.stringify(messages.map((m) => [m.id, m.status, m.tags]));
    $("count").textContent = messages.length ? String(messages.length) : "";
    $("empty").hidden = messages.length > 0;
    if (!state.selected) $("placeholder").textContent = messages.length ? "Select a message to see it." : "Nothing sent yet.";
    if (key !== state.listKey) {
      state.listKey = key;
      const items = messages.map((m) => {
        const to = (m.to && m.to.length ? m.to : m.rcpt_to).join(", ");
        return el(
          "li",
          {},
          el(
            "a",
            { class: "item", href: `#${encodeURIComponent(m.id)}`, "data-id": m.id },
            el("span", { class: "row" }, el("span", { class: "subject" }, m.subject || "(no subject)"), m.status ? pill(m.status) : null),
            el("span", { class: "who", title: to }, to),
            m.tags && m.tags.length ? el("span", { class: "tags" }, ...m.tags.map((t) => el("span", { class: "tag" }, t))) : null,
            el("time", { datetime: m.received_at, title: new Date(m.received_at).toLocaleString() }, ago(m.received_at)),
          ),
        );
      });
      $("outbox").replaceChildren(...items);
    } else {
      for (const time of $("outbox").querySelectorAll("time")) time.textContent = ago(time.dateTime);
    }
    markSelected();
  }

  function markSelected() {
    for (const a of $("outbox").querySelectorAll("a.item")) {
      a.classList.toggle("selected", a.dataset.id === state.selected);
      if (a.dataset.id === state.selected) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
    }
  }

  // ------------------------------------------------------------------------------------------ one message
  function metaRow(label, value, extra) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return [];
    const text = Array.isArray(value) ? value.join(", ") : String(value);
    return [el("dt", {}, label), el("dd", extra || {}, text)];
  }

  function renderMessage(m) {
    const fresh = m.id !== state.shownId;
    state.shownId = m.id;
    $("placeholder").hidden = true;
    $("message").hidden = false;
    $("m-subject").textContent = m.subject || "(no subject)";
    $("m-raw").href = `/_local/outbox/${encodeURIComponent(m.id)}/raw`;
    $("m-raw").setAttribute("download", `${m.id}.eml`);
    const named = [...m.to, ...m.cc].join(" ").toLowerCase();
    const envelope = m.rcpt_to.filter((a) => !named.includes(a.toLowerCase())); // Bcc: envelope only
    $("m-meta").replaceChildren(
      ...metaRow("From", m.from),
      ...metaRow("To", m.to),
      ...metaRow("Cc", m.cc),
      ...metaRow("Reply-To", m.reply_to),
      ...metaRow("Bcc", envelope, { class: "muted" }),
      ...metaRow("Date", m.date),
      ...metaRow("Size", bytes(m.size)),
      ...metaRow("SES id", m.ses_message_id, { class: "mono" }),
    );
    if (!fresh) return;

    // Rendered once per message: re-setting srcdoc would reload the preview and lose its scroll position.
    const preview = $("preview");
    const hasHtml = m.html_preview !== null;
    preview.hidden = !hasHtml;
    $("no-html").hidden = hasHtml;
    preview.srcdoc = hasHtml ? `<!doctype html><base target="_blank">${m.html_preview}` : "";

    openOn(m, hasHtml);
    $("text").textContent = m.text || "";
    $("text").hidden = m.text === null;
    $("no-text").hidden = m.text !== null;

    $("n-headers").textContent = String(m.headers.length);
    $("headers").replaceChildren(
      ...m.headers.map((h) => el("tr", {}, el("th", {}, h.name), el("td", {}, h.value))),
    );

    $("n-attachments").textContent = m.attachments.length ? String(m.attachments.length) : "";
    $("no-attachments").hidden = m.attachments.length > 0;
    $("attachments").replaceChildren(
      ...m.attachments.map((a) => {
        const url = `/_local/outbox/${encodeURIComponent(m.id)}/attachments/${a.index}`;
        const name = a.filename || `part ${a.index}`;
        return el(
          "tr",
          { "data-filename": a.filename || "" },
          el("td", {}, el("a", { href: url, download: name }, name), a.content_id ? el("span", { class: "tag" }, `cid:${a.content_id}`) : null),
          el("td", { class: "mono" }, a.content_type),
          el("td", { class: "num" }, bytes(a.size)),
          el("td", { class: "num" }, el("a", { href: url, download: name, class: "button ghost small" }, "Download")),
        );
      }),
    );

    const select = $("link-select");
    select.replaceChildren(
      ...(m.links.length
        ? m.links.map((link) => el("option", { value: link }, link))
        : [el("option", { value: "" }, "(no links in this message)")]),
    );
    select.disabled = m.links.length === 0;
    $("link-input").value = "";
    $("action-result").textContent = "";
    offerEngagement(m.tracking, m.links.length > 0);
  }

  // A new message opens on the body tab the reader chose, when it has that body; the headers and
  // attachments tabs stay where they are.
  function openOn(m, hasHtml) {
    const tab = currentTab();
    if (tab === "headers" || tab === "attachments") return;
    const has = { html: hasHtml, text: m.text !== null };
    const other = state.bodyTab === "html" ? "text" : "html";
    showTab(has[state.bodyTab] ? state.bodyTab : has[other] ? other : "headers");
  }

  // Open and Click only where SES would report them: the message's configuration set tracks them and it
  // has an HTML body (SES's open pixel and link rewriting are in the HTML part).
  function offerEngagement(tracking, hasLinks) {
    const t = tracking || { opens: false, clicks: false, reason: "" };
    $("open-button").disabled = !t.opens;
    $("open-button").dataset.offered = String(t.opens);
    $("link-select").disabled = !t.clicks || !hasLinks;
    $("link-input").disabled = !t.clicks;
    $("click-button").disabled = !t.clicks;
    $("click-button").dataset.offered = String(t.clicks);
    $("tracking-note").hidden = t.opens && t.clicks;
    $("tracking-note").textContent = t.opens && t.clicks ? "" : `SES would report ${!t.opens && !t.clicks ? "no opens or clicks" : !t.opens ? "no opens" : "no clicks"} for this message: ${t.reason}.`;
  }

  const DETAIL_KEYS = {
    bounce: ["bounce_type", "bounce_sub_type", "status", "diagnostic_code"],
    complaint: ["complaint_feedback_type", "complaint_sub_type", "user_agent"],
    click: ["link", "user_agent", "ip_address"],
    open: ["user_agent", "ip_address"],
    delivery: ["smtp_response", "processing_time_millis", "reporting_mta"],
    delivery_delay: ["delay_type", "status", "diagnostic_code", "expiration_time"],
    reject: ["reason"],
    rendering_failure: ["error_message", "template_name"],
  };

  const LABELS = {
    bounce_type: "type",
    bounce_sub_type: "subtype",
    diagnostic_code: "diagnostic",
    complaint_feedback_type: "feedback",
    complaint_sub_type: "subtype",
    user_agent: "user agent",
    ip_address: "ip",
    smtp_response: "smtp",
    processing_time_millis: "took (ms)",
    reporting_mta: "mta",
    delay_type: "type",
    expiration_time: "expires",
    error_message: "error",
    template_name: "template",
  };

  function details(event) {
    const keys = DETAIL_KEYS[event.type] || Object.keys(event.details || {});
    const rows = keys
      .filter((k) => event.details && event.details[k] !== undefined && event.details[k] !== null)
      .map((k) => {
        const value = event.details[k];
        const text = typeof value === "object" ? JSON.stringify(value) : String(value);
        return el(
          "div",
          { class: "kv", "data-key": k },
          el("span", { class: "k" }, LABELS[k] || k.replaceAll("_", " ")),
          el("span", { class: "v" }, text),
        );
      });
    return rows.length ? el("div", { class: "details" }, ...rows) : null;
  }

  // SES reports one event for several recipients (a Send, a Delivery): show it once, with all of them.
  function grouped(events) {
    const groups = [];
    for (const e of events) {
      const last = groups[groups.length - 1];
      const same = last && last.type === e.type && last.timestamp === e.timestamp && last.key === JSON.stringify(e.details);
      if (same) last.recipients.push(e.recipient);
      else groups.push({ ...e, key: JSON.stringify(e.details), recipients: [e.recipient] });
    }
    return groups;
  }

  function renderRecord(record) {
    $("p-none").hidden = record !== null;
    $("p-status").replaceWith(Object.assign(record ? pill(record.status) : el("span"), { id: "p-status" }));
    $("p-id").textContent = record ? `Posthorn id ${record.message_id}` : "";
    const recipients = record ? record.recipients : [];
    $("recipients").replaceChildren(
      ...recipients.map((r) =>
        el(
          "tr",
          { "data-email": r.email, "data-status": r.status },
          el("td", { class: "email", title: r.email }, r.email),
          el("td", { class: "type" }, r.type),
          el("td", { class: "num" }, pill(r.status)),
        ),
      ),
    );
    const events = record ? record.events : [];
    $("n-events").textContent = events.length ? String(events.length) : "";
    $("no-events").hidden = !record || events.length > 0;
    $("timeline").replaceChildren(
      ...grouped(events).map((e) =>
        el(
          "li",
          { class: `event t-${e.type}`, "data-type": e.type, "data-recipients": e.recipients.filter(Boolean).join(" ") },
          el("span", { class: "marker" }),
          el(
            "div",
            { class: "body" },
            el("div", { class: "line" }, el("span", { class: "type" }, e.type.replaceAll("_", " ")), el("time", { datetime: e.timestamp, title: e.timestamp }, clock(e.timestamp))),
            el("div", { class: "recipient" }, e.recipients.map((r) => r || "the message (SES does not say which recipient)").join(", ")),
            details(e),
          ),
        ),
      ),
    );
  }

  function renderExtra(record) {
    const metadata = record ? Object.entries(record.metadata || {}).map(([k, v]) => `${k}=${v}`) : [];
    $("p-extra").replaceChildren(
      ...metaRow("Tags", record ? record.tags : []),
      ...metaRow("Client ref", record ? record.client_reference : null),
      ...metaRow("Metadata", metadata),
    );
  }

  function stat(label, value) {
    return el("li", { "data-stat": label }, el("strong", {}, String(value)), el("span", {}, label));
  }

  function percent(rate) {
    return `${(rate * 100).toFixed(2)} %`;
  }

  async function refreshDomain() {
    const item = state.items[state.selected];
    const domain = item && item.domain;
    $("domain-card").hidden = !domain;
    if (!domain) return;
    let d;
    try {
      d = await getJson(`/_local/domains/${encodeURIComponent(domain)}`);
    } catch (error) {
      $("domain-card").hidden = true;
      return;
    }
    const key = JSON.stringify(d);
    if (key === state.domainKey) return;
    state.domainKey = key;
    $("d-name").textContent = d.domain;
    $("d-sending").replaceWith(Object.assign(pill(d.sending), { id: "d-sending" }));
    $("d-reason").hidden = !d.paused_reason;
    $("d-reason").textContent = d.paused_reason ? `Paused ${ago(d.paused_at)}: ${d.paused_reason}` : "";
    const t = d.stats.totals;
    $("d-stats").replaceChildren(
      stat("sent", t.sent),
      stat("delivered", t.delivered),
      stat("bounced", t.bounced),
      stat("complained", t.complained),
      stat("opened", t.opened),
      stat("clicked", t.clicked),
    );
    const r = d.reputation;
    $("d-reputation").textContent = r
      ? `Guard window: ${r.sent} of the last ${r.window} sent, bounces ${percent(r.bounce_rate)}, complaints ${percent(r.complaint_rate)} (last 30 days: bounce ${percent(d.stats.rates.bounce)})`
      : "";
    $("d-actions").hidden = d.sending !== "paused";
  }

  async function resume() {
    const item = state.items[state.selected];
    if (!item || !item.domain) return;
    try {
      const answer = await getJson(`/_local/domains/${encodeURIComponent(item.domain)}/resume`, { method: "POST" });
      $("d-result").textContent = `Sending again; ${answer.released} held message(s) queued.`;
    } catch (error) {
      $("d-result").textContent = String(error.message || error);
    }
    state.domainKey = "";
    refreshDomain();
  }

  // Each webhook delivery of the message with its attempts (status, time, duration, error).
  function renderDeliveries(deliveries) {
    $("n-deliveries").textContent = deliveries.length ? String(deliveries.length) : "";
    $("no-deliveries").hidden = deliveries.length > 0;
    $("deliveries").replaceChildren(
      ...deliveries.map((d) =>
        el(
          "li",
          { class: "delivery", "data-delivery": d.delivery_id, "data-status": d.status },
          el("div", { class: "line" }, el("span", { class: "type" }, d.event_type), pill(d.status)),
          el("div", { class: "mono small", title: d.url }, `${d.url} · ${d.delivery_id}`),
          d.next_attempt_at ? el("div", { class: "small" }, `next attempt ${clock(d.next_attempt_at)}`) : null,
          el(
            "ol",
            { class: "attempts" },
            ...d.attempts.map((a) =>
              el("li", { class: "small" }, `${clock(a.at)} · ${a.http_status ?? "no answer"} · ${a.duration_ms} ms${a.error ? " · " + a.error : ""}`),
            ),
          ),
        ),
      ),
    );
  }

  async function refreshDetail() {
    if (!state.selected) return;
    const id = state.selected;
    let m;
    try {
      m = await getJson(`/_local/outbox/${encodeURIComponent(id)}`);
    } catch (error) {
      if (id === state.selected) showMissing(String(error.message || error));
      return;
    }
    if (id !== state.selected) return; // the selection changed while loading
    const key = JSON.stringify([m.id, m.record, m.webhook_deliveries]);
    if (key === state.detailKey && m.id === state.shownId) return;
    state.detailKey = key;
    renderMessage(m);
    renderRecord(m.record);
    renderExtra(m.record);
    renderDeliveries(m.webhook_deliveries || []);
  }

  function showMissing(reason) {
    state.shownId = null;
    $("message").hidden = true;
    $("placeholder").hidden = false;
    $("placeholder").textContent = `This message is not in the outbox (${reason}).`;
  }

  // ------------------------------------------------------------------------------------------ actions
  async function act(path, body, label) {
    const buttons = [$("open-button"), $("click-button")];
    buttons.forEach((b) => (b.disabled = true));
    const restore = () => buttons.forEach((b) => (b.disabled = b.dataset.offered === "false"));
    const result = $("action-result");
    result.className = "result";
    result.textContent = `${label}…`;
    try {
      await getJson(`/_local/outbox/${encodeURIComponent(state.selected)}/${path}`, {
        method: "POST",
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      result.classList.add("ok");
      result.textContent = `${label}: event published.`;
    } catch (error) {
      result.classList.add("error");
      result.textContent = `${label} failed: ${error.message || error}`;
    } finally {
      restore();
    }
    await refresh();
  }

  $("open-button").addEventListener("click", () => act("open", null, "Open"));
  $("click-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const link = $("link-input").value.trim() || $("link-select").value;
    if (!link) {
      $("action-result").className = "result error";
      $("action-result").textContent = "Pick a link or type one.";
      return;
    }
    act("click", { link }, "Click");
  });

  // ------------------------------------------------------------------------------------------ tabs, widths
  function currentTab() {
    return document.querySelector('[data-tab][aria-selected="true"]').dataset.tab;
  }

  function showTab(name) {
    for (const tab of document.querySelectorAll("[data-tab]")) tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== name;
    $("widths").hidden = name !== "html";
  }

  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => {
      if (tab.dataset.tab === "html" || tab.dataset.tab === "text") state.bodyTab = tab.dataset.tab;
      showTab(tab.dataset.tab);
    });
  }

  // ------------------------------------------------------------------------------------------ clear, connection
  $("clear-outbox").addEventListener("click", async () => {
    try {
      await fetch("/_local/outbox", { method: "DELETE" });
    } finally {
      state.selected = null;
      state.shownId = null;
      history.replaceState(null, "", location.pathname);
      $("message").hidden = true;
      $("placeholder").hidden = false;
      await refresh();
    }
  });

  async function showConnection() {
    let c;
    try {
      c = await getJson("/_local/connection");
    } catch (error) {
      $("connection").hidden = true;
      return;
    }
    $("c-meta").replaceChildren(
      ...metaRow("API", c.api_url),
      ...metaRow("Admin key", c.admin_api_key, { "data-key": "admin_api_key" }),
      ...metaRow("SMTP", `${c.smtp.host}:${c.smtp.starttls_port} (STARTTLS), :${c.smtp.tls_port} (TLS), AUTH ${c.smtp.auth.join("/")}`),
      ...metaRow("SMTP login", `${c.smtp.username}; password: ${c.smtp.password}`),
      ...metaRow("CA", c.smtp.ca_url),
      ...metaRow("Docs", c.docs),
      ...metaRow("AWS (moto)", c.aws_endpoint),
    );
  }
  for (const button of document.querySelectorAll("[data-width]")) {
    button.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[data-width]")) other.setAttribute("aria-pressed", String(other === button));
      $("preview").style.width = button.dataset.width;
    });
  }

  // ------------------------------------------------------------------------------------------ selection, polling
  function select(id) {
    if (id === state.selected) return;
    state.selected = id;
    state.detailKey = "";
    markSelected();
    refreshDetail();
  }

  window.addEventListener("hashchange", () => select(decodeURIComponent(location.hash.slice(1)) || null));

  function filterQuery() {
    const query = new URLSearchParams();
    for (const [name, id] of [["q", "f-q"], ["status", "f-status"], ["tag", "f-tag"], ["recipient", "f-recipient"]]) {
      const value = $(id).value.trim();
      if (value) query.set(name, value);
    }
    const text = query.toString();
    return text ? `?${text}` : "";
  }

  for (const id of ["f-q", "f-status", "f-tag", "f-recipient"]) $(id).addEventListener("input", () => refresh());
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("resume-button").addEventListener("click", () => resume());

  async function refresh() {
    try {
      const { messages } = await getJson(`/_local/outbox${filterQuery()}`);
      renderList(messages);
      if (!state.selected && messages.length) select(messages[0].id);
      else await refreshDetail();
      await refreshDomain();
      setLive(true, "live");
    } catch (error) {
      setLive(false, "disconnected");
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      if (!document.hidden) await refresh();
      schedule();
    }, POLL_MS);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });

  state.selected = decodeURIComponent(location.hash.slice(1)) || null;
  showConnection();
  refresh().then(schedule);
})();
