// Small formatting helpers shared by the file browser and the Running view.

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const STEPS = [
  [60, "second"], [60, "minute"], [24, "hour"], [7, "day"], [4.345, "week"], [12, "month"], [Infinity, "year"],
];

/** "2 minutes ago", "yesterday", "3 years ago" for an ISO timestamp; "" for none. */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return "";
  let amount = (Date.parse(iso) - now) / 1000;
  if (Math.abs(amount) < 45) return "seconds ago";
  for (const [size, unit] of STEPS) {
    if (Math.abs(amount) < size) return relative.format(Math.round(amount), unit);
    amount /= size;
  }
  return "";
}

/** The local date and time of an ISO timestamp, for tooltips. */
export function absoluteTime(iso) {
  return iso ? absolute.format(new Date(Date.parse(iso))) : "";
}

/** "0 B", "812 B", "1.4 KB", "23 MB" (powers of 1024, as Jupyter's file browser shows). */
export function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

const SVG = "http://www.w3.org/2000/svg";
const ICON_PATHS = {
  directory: "M2 4.5A1.5 1.5 0 0 1 3.5 3h3.1l1.6 1.8h4.3A1.5 1.5 0 0 1 14 6.3v5.2a1.5 1.5 0 0 1-1.5 1.5h-9A1.5 1.5 0 0 1 2 11.5z",
  notebook: "M4 1.5h6.5L13 4v10.5H4zM5.5 6h6M5.5 8.5h6M5.5 11h4",
  file: "M4 1.5h5.5L12.5 4.5v10H4zM9.5 1.5v3h3",
};

/** A small decorative SVG icon for an entry type ("directory", "notebook" or "file"). */
export function typeIcon(kind) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `nb-icon nb-icon-${kind}`);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICON_PATHS[kind] || ICON_PATHS.file);
  if (kind === "directory") {
    path.setAttribute("fill", "currentColor");
  } else {
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "1.2");
    path.setAttribute("stroke-linejoin", "round");
  }
  svg.append(path);
  return svg;
}
