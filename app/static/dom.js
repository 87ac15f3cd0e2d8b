// compensa pages: the DOM helpers every page uses (loaded before the page's own script), and api(), the one
// way every page calls the service. el() sets text with textContent, never innerHTML, so no data can inject markup.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// -- API keys ---------------------------------------------------------------------------------------------------
// A service run with API keys answers every /v1 call without one with 401. api() then asks for the key (a
// modal dialog), keeps it for this tab only (sessionStorage, never localStorage, never in a URL) and retries
// with X-API-Key; a refused key asks again and says so. "Forget key" drops it.
const KEY_STORE = "compensa.api-key";
let keyPrompt = null;   // one prompt shared by every call that met a 401 meanwhile

function storedKey() {
  try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
}

function keyBar() {
  let bar = $("key-bar");
  if (!bar) {
    bar = el("p", { id: "key-bar", class: "key-bar small", hidden: "" },
      el("span", { text: "An API key is in use for this tab. " }),
      el("button", { type: "button", class: "secondary", id: "key-forget", text: "Forget key", onclick: forgetKey }));
    (document.querySelector("header") || document.body).append(bar);
  }
  return bar;
}

function showKeyBar() { keyBar().hidden = !storedKey(); }

function forgetKey() {
  try { sessionStorage.removeItem(KEY_STORE); } catch (e) { /* nothing kept */ }
  const bar = keyBar();
  bar.hidden = true;
  const status = $("key-status") || el("p", { id: "key-status", class: "small", role: "status" });
  if (!status.isConnected) (document.querySelector("header") || document.body).append(status);
  status.textContent = "API key forgotten: the next request will ask for it.";
}

function keyDialog() {
  let dialog = $("key-dialog");
  if (dialog) return dialog;
  const input = el("input", { id: "key-input", name: "api-key", type: "password", autocomplete: "off", spellcheck: "false",
    "aria-describedby": "key-message key-error" });
  dialog = el("dialog", { id: "key-dialog", class: "key-dialog", "aria-labelledby": "key-title", "aria-describedby": "key-message" },
    el("form", { method: "dialog", id: "key-form" },
      el("h2", { id: "key-title", text: "API key needed" }),
      el("p", { id: "key-message", text: "This server asks for an API key. It is kept only for this browser tab and sent as the X-API-Key header." }),
      el("p", { id: "key-error", class: "key-error", role: "alert" }),
      el("label", { for: "key-input", text: "API key" }), input,
      el("p", { class: "key-buttons" },
        el("button", { type: "submit", id: "key-submit", value: "ok", text: "Use this key" }),
        el("button", { type: "submit", id: "key-cancel", class: "secondary", value: "cancel", formnovalidate: "", text: "Cancel" }))));
  document.body.append(dialog);
  return dialog;
}

// Ask for the key; resolves to the key entered, or "" when the dialog is cancelled.
function promptForKey(error) {
  const dialog = keyDialog(), input = $("key-input");
  $("key-error").textContent = error || "";
  input.value = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const key = dialog.returnValue === "ok" ? input.value.trim() : "";
      input.value = "";
      if (key) { try { sessionStorage.setItem(KEY_STORE, key); } catch (e) { /* kept for this call only */ } }
      showKeyBar();
      resolve(key);
    }, { once: true });
    dialog.returnValue = "";
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

async function detailOf(response) {
  try {
    const data = await response.clone().json();
    return { text: typeof data.detail === "string" ? data.detail : "", id: data.request_id || "" };
  } catch (e) { return { text: "", id: "" }; }
}

// fetch() for the service's API: adds the tab's key, and on a 401 asks for one and tries again.
async function api(path, options = {}) {
  let sessionKey = "";   // a key entered here, used even when sessionStorage is unavailable
  for (;;) {
    const key = storedKey() || sessionKey;
    const headers = new Headers(options.headers || {});
    if (key) headers.set("X-API-Key", key);
    const response = await fetch(path, { ...options, headers });
    if (response.status !== 401) return response;
    if (storedKey() && storedKey() !== key) continue;   // another call got a new key meanwhile
    if (!keyPrompt) {
      const { text, id } = await detailOf(response);
      if (key) { try { sessionStorage.removeItem(KEY_STORE); } catch (e) { /* nothing kept */ } }
      const error = key ? `That API key was refused${text ? " (" + text + ")" : ""}${id ? ", request " + id : ""}. Enter it again.` : "";
      keyPrompt = promptForKey(error).finally(() => { keyPrompt = null; });
    }
    const entered = await keyPrompt;
    if (!entered) return response;   // cancelled: the caller shows the 401's detail
    sessionKey = entered;
  }
}

// The message of an error response: its detail, a string or a list of problems.
function problemText(data, status) {
  if (!data || data.detail === undefined) return String(status || "error");
  if (!Array.isArray(data.detail)) return String(data.detail);
  return data.detail.map((d) => `${(d.loc || []).slice(1).join(".")}${(d.loc || []).length > 1 ? ": " : ""}${d.msg}`
    + `${d.suggestions && d.suggestions.length ? " (did you mean " + d.suggestions.join(", ") + "?)" : ""}`).join("; ");
}

// api() and the JSON answer; an error response throws with its message.
async function apiJSON(path, options = {}) {
  const response = await api(path, options);
  let data = null;
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) throw new Error(problemText(data, response.status));
  return data;
}

if (storedKey()) showKeyBar();
