// The person's UI settings on every page: the theme (data-theme on <html>, which base.css's
// --nb-* variables follow; none = follow the system) and the code font size (the
// --nb-code-font-size variable). They live on the server, per user, in the config section
// "flask_notebook" (blueprints/config.py UI_SECTION); the server renders the saved ones into
// <html> and the page config, so the first paint has them. Changes made in one tab reach the
// user's other open tabs at once (a BroadcastChannel).

import { apiUrl, pageConfig, request } from "./api.js";

export const SECTION = "flask_notebook";

/** What a user who never chose gets (autosaveInterval: the server's default, page config). */
export const DEFAULTS = { theme: "system", lineNumbers: false, codeFontSize: 13, hoverHelp: false };

const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("flask-notebook-settings") : null;
const listeners = new Set();

/** The settings as the server rendered them into this page, over the defaults. */
export function currentSettings() {
  const config = pageConfig();
  const base = { ...DEFAULTS, autosaveInterval: Number(config.autosaveInterval) || 0 };
  return { ...base, ...(config.settings || {}) };
}

/** Put the look on the page: theme and code font size. */
export function applySettings(settings) {
  const root = document.documentElement;
  if (settings.theme === "light" || settings.theme === "dark") root.dataset.theme = settings.theme;
  else delete root.dataset.theme;
  const size = Number(settings.codeFontSize);
  if (size >= 8 && size <= 32) root.style.setProperty("--nb-code-font-size", `${size}px`);
  else root.style.removeProperty("--nb-code-font-size");
}

/** Call `fn(settings)` whenever settings change (here or in another tab). */
export function onSettingsChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed(settings) {
  const config = pageConfig();
  config.settings = { ...(config.settings || {}), ...settings };
  const all = currentSettings();
  applySettings(all);
  for (const fn of listeners) fn(all);
}

/** Store `patch` (some keys) for this user, apply it here and tell the other tabs. */
export async function saveSettings(patch) {
  changed(patch);
  const { data } = await request("PATCH", apiUrl("config", SECTION), { body: patch });
  if (channel) channel.postMessage(patch);
  return data;
}

if (channel) channel.addEventListener("message", (event) => changed(event.data || {}));
applySettings(currentSettings());
