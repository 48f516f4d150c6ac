// The Settings menu's work on the notebook page: the theme, the autosave interval, line
// numbers by default, the code font size and help on hover (inspect.js reads it at each hover), stored per user on the server (js/theme.js,
// config section "flask_notebook") and applied at once, here and in the user's other tabs.

import { el, openDialog } from "../../js/dialogs.js";
import { currentSettings, onSettingsChange, saveSettings } from "../../js/theme.js";

const THEMES = [["system", "Follow the system"], ["light", "Light"], ["dark", "Dark"]];

/** Apply the settings that are the notebook page's own: autosave and line numbers. */
export function applyToNotebook(app, settings) {
  if (app.handles && app.handles.refreshMenus) app.handles.refreshMenus(); // the Settings menu's checks
  if (app.saver && typeof app.saver.setAutosave === "function") app.saver.setAutosave(Number(settings.autosaveInterval) || 0);
  const notebook = app.notebook;
  if (!notebook) return;
  const on = Boolean(settings.lineNumbers);
  if (typeof notebook.showLineNumbers === "function") notebook.showLineNumbers(on);
  else notebook.lineNumbersDefault = on;
}

/** Apply the saved settings now and whenever they change. */
export function followSettings(app) {
  applyToNotebook(app, currentSettings());
  onSettingsChange((settings) => applyToNotebook(app, settings));
}

/** Whether the setting `key` is `value` now (the Settings menu's checked items). */
export function settingIs(key, value) {
  const settings = currentSettings();
  return key === "lineNumbers" ? Boolean(settings[key]) === value : settings[key] === value;
}

export function setTheme(theme) {
  return saveSettings({ theme });
}

export function toggleLineNumbers() {
  return saveSettings({ lineNumbers: !currentSettings().lineNumbers });
}

/** The Settings dialog: every setting in one form; Save stores and applies them. */
export async function openSettings() {
  const settings = currentSettings();
  const field = (id, label, input, hint) => el("div", { className: "nb-settings-field" },
    el("label", { htmlFor: id }, label), input, hint ? el("small", { className: "nb-settings-hint", id: `${id}-hint` }, hint) : null);
  const theme = el("select", { id: "nb-setting-theme" },
    ...THEMES.map(([value, label]) => el("option", { value, selected: settings.theme === value }, label)));
  const autosave = el("input", {
    type: "number", id: "nb-setting-autosave", min: "0", max: "86400", step: "1", required: true,
    value: String(settings.autosaveInterval), "aria-describedby": "nb-setting-autosave-hint",
  });
  const fontSize = el("input", {
    type: "number", id: "nb-setting-font-size", min: "8", max: "32", step: "1", required: true,
    value: String(settings.codeFontSize), "aria-describedby": "nb-setting-font-size-hint",
  });
  const lineNumbers = el("input", { type: "checkbox", id: "nb-setting-line-numbers", checked: Boolean(settings.lineNumbers) });
  const hoverHelp = el("input", { type: "checkbox", id: "nb-setting-hover-help", checked: Boolean(settings.hoverHelp), "aria-describedby": "nb-setting-hover-help-hint" });
  return openDialog({
    title: "Settings",
    className: "nb-settings",
    body: [
      field("nb-setting-theme", "Theme", theme),
      field("nb-setting-autosave", "Autosave interval (seconds)", autosave, "0 turns autosave off."),
      field("nb-setting-font-size", "Code font size (pixels)", fontSize, "Editors and outputs, 8 to 32."),
      el("div", { className: "nb-settings-field nb-settings-check" }, lineNumbers,
        el("label", { htmlFor: "nb-setting-line-numbers" }, "Line numbers in editors by default")),
      el("div", { className: "nb-settings-field nb-settings-check" }, hoverHelp,
        el("label", { htmlFor: "nb-setting-hover-help" }, "Show help when the mouse rests on a name")),
      el("small", { className: "nb-settings-hint", id: "nb-setting-hover-help-hint" }, "In code cells: the kernel's help, as Shift-Tab shows it."),
      el("p", { className: "nb-settings-hint" }, "Saved for your account on this server; every page uses them."),
    ],
    confirmLabel: "Save",
    initialFocus: theme,
    onSubmit: async () => {
      const seconds = Number(autosave.value);
      const size = Number(fontSize.value);
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > 86400) throw new Error("The autosave interval is a whole number of seconds, 0 to 86400.");
      if (!Number.isInteger(size) || size < 8 || size > 32) throw new Error("The code font size is a whole number, 8 to 32.");
      const patch = { theme: theme.value, autosaveInterval: seconds, codeFontSize: size, lineNumbers: lineNumbers.checked,
        hoverHelp: hoverHelp.checked };
      await saveSettings(patch);
      return patch;
    },
  });
}
