// The console's shell: sign-in, what the key may do (probed with ordinary requests), the menu and the views.
import { ApiError, api, describe, get, local, session } from "./api.js";
import { clear, h, notice } from "./dom.js";
import { credentialsView } from "./credentials.js";
import { domainsView } from "./domains.js";
import { filesView } from "./files.js";
import { localView } from "./local.js";
import { messageView, messagesView } from "./messages.js";
import { statsView } from "./stats.js";
import { suppressionsView } from "./suppressions.js";
import { webhookView, webhooksView } from "./webhooks.js";

const VIEWS = [
  { name: "messages", label: "Messages", needs: "read", render: messagesView, detail: messageView },
  { name: "stats", label: "Stats", needs: "read", render: statsView },
  { name: "domains", label: "Domains", needs: "admin", render: domainsView },
  { name: "credentials", label: "Credentials", needs: "admin", render: credentialsView },
  { name: "webhooks", label: "Webhooks", needs: "webhooks", render: webhooksView, detail: webhookView },
  { name: "suppressions", label: "Suppressions", needs: "read", render: suppressionsView },
  { name: "files", label: "Files", needs: "files", render: filesView },
  // The whole outbox (every tenant's mail) and the connection panel (the stack's admin key): the local
  // stack's operator only, so a key with admin. A message's own outbox copy shows in its detail view.
  { name: "local", label: "Local outbox", needs: "localAdmin", render: localView },
];

const state = { caps: null, username: null };

// Whether a probe came back as "allowed": anything but 403 forbidden (404 and 422 say the route was
// reached with the permission).
async function allowed(request) {
  try {
    await request();
    return true;
  } catch (error) {
    if (!(error instanceof ApiError)) return false;
    if (error.status === 401 || error.code === "credential_suspended") throw error;
    return error.status !== 403 && error.status < 500;
  }
}

async function probe() {
  const [read, admin, webhooks, files, send, localStack] = await Promise.all([
    allowed(() => get("messages", { limit: 1 })),
    allowed(() => get("credentials")),
    allowed(() => get("webhooks")),
    allowed(() => get("files/console-permission-probe")),
    allowed(() => api("POST", "suppressions", { body: {} })),
    local("GET", "connection").then(() => true, () => false),
  ]);
  return { read, admin, webhooks, files, send, local: localStack, localAdmin: localStack && admin };
}

const NOTICE = "posthorn.signed_out";

function signedOut(message) {
  session.clear();
  if (state.caps) {
    // A fresh page: nothing the last key saw stays in any module's memory (a search, an uploaded file).
    sessionStorage.setItem(NOTICE, message || "");
    location.replace(location.pathname + location.search);
    return;
  }
  state.caps = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  clear(document.getElementById("nav"));
  clear(document.getElementById("view"));
  document.getElementById("signin").hidden = false;
  document.getElementById("signin-error").textContent = message || "";
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  document.querySelector("input[name=api_key]").focus();
}

async function signIn(key) {
  session.key = key;
  try {
    state.caps = await probe();
  } catch (error) {
    const refused = error instanceof ApiError && error.status === 401;
    const suspended = error instanceof ApiError && error.code === "credential_suspended";
    signedOut(refused ? "That key was not accepted (unknown, revoked or mistyped)."
      : suspended ? "That key is suspended: an admin can make it active again."
        : `Could not sign in: ${describe(error)}`);
    return;
  }
  if (error403Everywhere(state.caps)) {
    signedOut("That key may do nothing the console shows (it has only the send permission).");
    return;
  }
  state.username = key.split(".")[0];
  document.getElementById("signin").hidden = true;
  renderNav();
  if (!location.hash || location.hash === "#") location.hash = `#/${firstView().name}`;
  else route();
}

function error403Everywhere(caps) {
  return !VIEWS.some((view) => caps[view.needs]);
}

function firstView() {
  return VIEWS.find((view) => state.caps[view.needs]);
}

function renderNav() {
  const nav = document.getElementById("nav");
  clear(nav, h("ul", {}, VIEWS.filter((view) => state.caps[view.needs]).map((view) =>
    h("li", {}, h("a", { href: `#/${view.name}`, "data-view": view.name }, view.label)))));
  nav.hidden = false;
  const who = document.getElementById("who");
  const perms = ["read", "send", "files", "webhooks", "admin"].filter((name) => state.caps[name]);
  clear(who,
    h("span", { class: "username", title: `permissions: ${perms.join(", ")}` }, state.username),
    h("button", { type: "button", class: "small", id: "signout", onclick: () => signedOut("Signed out.") }, "Sign out"));
  who.hidden = false;
}

async function route() {
  if (!state.caps) return;
  const [, name, ...rest] = location.hash.replace(/^#/, "").split("/");
  const view = VIEWS.find((candidate) => candidate.name === name && state.caps[candidate.needs]) || firstView();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === view.name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const root = clear(document.getElementById("view"));
  root.dataset.view = view.name;
  const param = rest.length ? decodeURIComponent(rest.join("/")) : null;
  const context = { caps: state.caps, username: state.username, go: (hash) => { location.hash = hash; } };
  try {
    await (param && view.detail ? view.detail(root, context, param) : view.render(root, context));
    // Keyboard and screen reader users start at the new view's heading (a view that focused a field keeps it).
    const heading = root.querySelector("h1");
    if (heading && !root.contains(document.activeElement)) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signedOut("The key stopped working (revoked, rotated or suspended). Sign in again.");
      return;
    }
    root.append(notice("error", describe(error)));
  }
}

document.getElementById("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = event.currentTarget.elements.api_key;
  const key = input.value.trim();
  input.value = "";
  if (key) signIn(key);
});
window.addEventListener("hashchange", route);
const lastNotice = sessionStorage.getItem(NOTICE);
sessionStorage.removeItem(NOTICE);
if (session.key) signIn(session.key);
else signedOut(lastNotice);
