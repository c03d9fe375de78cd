// Files: what the API allows (no listing): upload, look a key up (metadata), delete. Keys uploaded in this
// tab are remembered until it is closed or you sign out.
import { api, describe, get } from "./api.js";
import { clear, copyButton, dl, field, fmtTime, h, notice } from "./dom.js";

const uploaded = [];

function metadata(file, onDelete) {
  return h("article", { class: "card", "data-file-key": file.file_key },
    dl([["File key", h("span", {}, h("code", {}, file.file_key), " ", copyButton(file.file_key))], ["Name", file.name],
      ["Type", file.content_type], ["Size", `${file.size} bytes`], ["SHA-256", h("code", { class: "wrap" }, file.sha256)],
      ["Expires", fmtTime(file.expires_at)]]),
    h("button", { type: "button", class: "danger small", onclick: onDelete }, "Delete"));
}

export async function filesView(root) {
  const message = h("div", { id: "file-message" });
  const shown = h("div", { id: "file-list" });
  const draw = () => clear(shown, uploaded.length
    ? uploaded.map((file) => metadata(file, async () => {
      try {
        await api("DELETE", `files/${encodeURIComponent(file.file_key)}`);
        uploaded.splice(uploaded.indexOf(file), 1);
        clear(message, notice("ok", `Deleted ${file.name}.`));
        draw();
      } catch (error) {
        clear(message, notice("error", describe(error)));
      }
    }))
    : h("p", { class: "empty" }, "The API lists no files: upload one here (its file_key then goes in an attachment), or look a key up."));
  root.append(h("h1", {}, "Files"),
    h("form", { class: "inline-form", id: "file-upload", onsubmit: async (event) => {
      event.preventDefault();
      const [file] = event.currentTarget.elements.file.files;
      if (!file) return;
      try {
        const stored = await api("POST", "files", { query: { name: file.name }, raw: file, contentType: file.type || "application/octet-stream" });
        uploaded.unshift(stored);
        clear(message, notice("ok", `Uploaded ${stored.name}.`));
        draw();
      } catch (error) {
        clear(message, notice("error", describe(error)));
      }
    } }, field("Upload a file (up to about 4 MB here; larger ones through POST /v1/files/uploads)", h("input", { type: "file", name: "file", required: true })), h("button", { type: "submit" }, "Upload")),
    h("form", { class: "inline-form", id: "file-lookup", onsubmit: async (event) => {
      event.preventDefault();
      const key = event.currentTarget.elements.file_key.value.trim();
      try {
        const found = await get(`files/${encodeURIComponent(key)}`);
        if (!uploaded.some((f) => f.file_key === found.file_key)) uploaded.unshift(found);
        clear(message);
        draw();
      } catch (error) {
        clear(message, notice("error", describe(error)));
      }
    } }, field("Look up a file key", h("input", { name: "file_key", required: true })), h("button", { type: "submit" }, "Look up")),
    message, shown);
  draw();
}
