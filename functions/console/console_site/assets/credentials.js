// Credentials (admin): create (the secret shown once), rotate with overlap, suspend, revoke, permissions, rate.
import { api, describe, get } from "./api.js";
import { badge, clear, dl, field, fmtTime, formData, h, notice, secretOnce, table } from "./dom.js";

const PERMISSIONS = ["send", "read", "files", "webhooks", "admin"];

function checkboxes(name, options, chosen) {
  return h("fieldset", { class: "checks" }, h("legend", {}, name),
    options.map((option) => h("label", {}, h("input", { type: "checkbox", name, value: option, checked: chosen.includes(option) }), ` ${option}`)));
}

function chosenValues(form, name) {
  return [...form.querySelectorAll(`input[name=${name}]:checked`)].map((input) => input.value);
}

export async function credentialsView(root) {
  const list = h("div", { id: "credential-list" });
  const message = h("div", { id: "credential-message" });
  const domains = (await get("domains")).domains.map((d) => d.domain);
  const show = (node) => { clear(message, node); message.scrollIntoView({ block: "nearest" }); };
  const draw = async () => {
    const { credentials } = await get("credentials");
    clear(list, table(["Username", "Name", "Status", "Domains", "Permissions", "Rate /s", "Created", ""],
      credentials.map((c) => [h("code", {}, c.username), c.name, badge(c.status), (c.domains || []).join(", ") || "—",
        (c.permissions || []).join(", "), c.rate_limit_per_second ?? "default", fmtTime(c.created_at), actions(c)]),
      "No credentials yet: create one for each app or person that sends."));
  };
  const act = async (work) => {
    try {
      await work();
      await draw();
    } catch (error) {
      show(notice("error", describe(error)));
    }
  };
  const actions = (c) => {
    const name = encodeURIComponent(c.username);
    if (c.status === "revoked") return h("span", { class: "muted" }, "revoked (final)");
    return h("div", { class: "actions", "data-username": c.username },
      h("button", { type: "button", class: "small", onclick: () => act(async () => {
        const keep = prompt("Keep the old secret working for how many seconds (0–86400)?", "3600");
        if (keep === null) return;
        const rotated = await api("POST", `credentials/${name}/secret`, { body: { keep_old_seconds: Number(keep) } });
        show(secretOnce(`New secret for ${c.username}`, [["api_key", rotated.api_key], ["secret", rotated.secret]]));
      }) }, "Rotate secret"),
      c.status === "active"
        ? h("button", { type: "button", class: "small", onclick: () => act(() => api("PATCH", `credentials/${name}`, { body: { status: "suspended" } })) }, "Suspend")
        : h("button", { type: "button", class: "small", onclick: () => act(() => api("PATCH", `credentials/${name}`, { body: { status: "active" } })) }, "Reactivate"),
      h("button", { type: "button", class: "small", onclick: () => editForm(c) }, "Edit"),
      h("button", { type: "button", class: "small danger", onclick: () => {
        if (confirm(`Revoke ${c.username}? A revoked credential cannot be used again.`)) act(() => api("PATCH", `credentials/${name}`, { body: { status: "revoked" } }));
      } }, "Revoke"));
  };
  const editForm = (c) => {
    show(h("form", { class: "card", id: "credential-edit", onsubmit: (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const values = formData(form);
      const body = { name: values.name, permissions: chosenValues(form, "permissions"), domains: chosenValues(form, "domains") };
      if (values.rate_limit_per_second) body.rate_limit_per_second = Number(values.rate_limit_per_second);
      act(async () => { await api("PATCH", `credentials/${encodeURIComponent(c.username)}`, { body }); show(notice("ok", `Saved ${c.username}.`)); });
    } },
    h("h2", {}, `Edit ${c.username}`),
    field("Name", h("input", { name: "name", value: c.name || "" })),
    checkboxes("permissions", PERMISSIONS, c.permissions || []),
    checkboxes("domains", [...new Set([...domains, ...(c.domains || [])])], c.domains || []),
    field("Rate limit per second", h("input", { name: "rate_limit_per_second", type: "number", min: 1, value: c.rate_limit_per_second ?? "" })),
    h("button", { type: "submit" }, "Save")));
  };
  const create = h("form", { class: "card", id: "credential-create", onsubmit: (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const values = formData(form);
    const body = { name: values.name, domains: chosenValues(form, "domains"), permissions: chosenValues(form, "permissions") };
    if (values.rate_limit_per_second) body.rate_limit_per_second = Number(values.rate_limit_per_second);
    act(async () => {
      const created = await api("POST", "credentials", { body });
      form.reset();
      show(secretOnce(`Created ${created.username}`, [["api_key", created.api_key], ["secret", created.secret]]));
    });
  } },
  h("h2", {}, "Create a credential"),
  domains.length ? null : h("p", { class: "empty" }, "Add a domain first: a credential sends from one or more of them."),
  field("Name", h("input", { name: "name", required: true, placeholder: "billing app" })),
  checkboxes("domains", domains, domains.slice(0, 1)),
  checkboxes("permissions", PERMISSIONS, ["send", "read"]),
  field("Rate limit per second (empty: the stack's default)", h("input", { name: "rate_limit_per_second", type: "number", min: 1 })),
  h("button", { type: "submit" }, "Create"));
  root.append(h("h1", {}, "Credentials"), message, list, create);
  await draw();
}

export { dl };
