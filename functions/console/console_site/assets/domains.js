// Domains (admin): add, DNS records to publish, verification, the guard's state and reputation, Resume.
import { api, describe, get } from "./api.js";
import { badge, clear, copyButton, dl, field, fmtTime, h, notice, pct, table } from "./dom.js";

function reputation(rep) {
  if (!rep) return "no window yet";
  return `${rep.sent} sent of a ${rep.window} window · bounces ${rep.bounced} (${pct(rep.bounce_rate)}) · complaints ${rep.complained} (${pct(rep.complaint_rate)})`;
}

function domainCard(domain, redraw) {
  const status = h("p", { role: "status", class: "muted" });
  const run = async (action) => {
    try {
      await action();
      await redraw();
    } catch (error) {
      status.textContent = describe(error);
    }
  };
  const name = encodeURIComponent(domain.domain);
  return h("article", { class: "card", "data-domain": domain.domain },
    h("h2", {}, domain.domain, " ", badge(domain.status), " ", badge(domain.sending)),
    dl([
      ["Added", fmtTime(domain.created_at)],
      ["Sending", domain.sending === "paused" ? `paused ${fmtTime(domain.paused_at)}: ${domain.paused_reason || ""}` : "enabled"],
      ["Reputation", reputation(domain.reputation)],
    ]),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => run(() => get(`domains/${name}`)) }, "Check verification"),
      domain.sending === "paused"
        ? h("button", { type: "button", class: "resume", onclick: () => run(() => api("POST", `domains/${name}/resume`)) }, "Resume sending")
        : null,
      h("button", { type: "button", class: "danger", onclick: () => {
        if (confirm(`Delete ${domain.domain}? Credentials that name it must be changed first.`)) run(() => api("DELETE", `domains/${name}`));
      } }, "Delete")),
    status,
    h("details", { open: domain.status !== "verified" || undefined },
      h("summary", {}, "DNS records to publish"),
      table(["Type", "Name", "Value", "Purpose", ""], domain.dns_records.map((r) => [
        r.type, h("code", {}, r.name), h("code", { class: "wrap" }, r.value), r.purpose,
        h("span", { class: "copies" }, copyButton(r.name, "Copy name"), copyButton(r.value, "Copy value")),
      ]), "SES asks for no records for this domain (the local stack verifies domains at once).")));
}

export async function domainsView(root) {
  const list = h("div", { id: "domain-list" });
  const message = h("div");
  const draw = async () => {
    const { domains } = await get("domains");
    const full = await Promise.all(domains.map((d) => get(`domains/${encodeURIComponent(d.domain)}`).catch(() => d)));
    clear(list, full.length
      ? full.map((d) => domainCard(d, draw))
      : h("p", { class: "empty" }, "No domains yet. Add the domain you send from, then publish its DNS records."));
  };
  root.append(h("h1", {}, "Domains"),
    h("form", { class: "inline-form", onsubmit: async (event) => {
      event.preventDefault();
      const input = event.currentTarget.elements.domain;
      try {
        await api("POST", "domains", { body: { domain: input.value.trim() } });
        clear(message, notice("ok", `Added ${input.value.trim()}: publish its DNS records below.`));
        input.value = "";
        await draw();
      } catch (error) {
        clear(message, notice("error", describe(error)));
      }
    } }, field("Add a domain", h("input", { name: "domain", required: true, placeholder: "example.com" })), h("button", { type: "submit" }, "Add")),
    message, list);
  await draw();
}
