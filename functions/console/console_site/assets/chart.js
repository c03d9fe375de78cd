// Hand-drawn SVG charts (no chart library: two chart kinds do not earn one). Labels are text nodes.
import { h } from "./dom.js";

const COLORS = { sent: "#1f4e79", delivered: "#2e7d32", bounced: "#c62828", complained: "#ef6c00",
  opened: "#6a1b9a", clicked: "#00838f", bounce: "#c62828", complaint: "#ef6c00" };
const W = 720;
const H = 240;
const PAD = { left: 48, right: 12, top: 12, bottom: 36 };

function scale(max) {
  return (value) => PAD.top + (H - PAD.top - PAD.bottom) * (1 - (max ? value / max : 0));
}

function label(start, hourly) {
  const date = new Date(start);
  return hourly ? `${date.toISOString().slice(11, 13)}h` : date.toISOString().slice(5, 10);
}

function axes(max, series, hourly, format) {
  const y = scale(max);
  const step = Math.max(1, Math.ceil(series.length / 10));
  const x = (i) => PAD.left + ((W - PAD.left - PAD.right) * (i + 0.5)) / Math.max(1, series.length);
  return {
    x, y,
    nodes: [
      [0, 0.5, 1].map((f) => h("g", {},
        h("line", { x1: PAD.left, x2: W - PAD.right, y1: y(max * f), y2: y(max * f), stroke: "#ddd" }),
        h("text", { x: PAD.left - 6, y: y(max * f), "text-anchor": "end", "dominant-baseline": "middle", class: "tick" }, format(max * f)))),
      series.map((point, i) => (i % step === 0
        ? h("text", { x: x(i), y: H - PAD.bottom + 16, "text-anchor": "middle", class: "tick" }, label(point.start, hourly))
        : null)),
    ],
  };
}

function legend(names) {
  return h("ul", { class: "legend" }, names.map((name) => h("li", { "data-series": name },
    h("svg", { width: 12, height: 12, viewBox: "0 0 12 12", "aria-hidden": "true" }, h("rect", { width: 12, height: 12, fill: COLORS[name] || "#555" })),
    ` ${name}`)));
}

// Counts per interval, one line per metric.
export function countsChart(series, names, hourly, title) {
  const top = Math.max(1, ...series.flatMap((p) => names.map((n) => Number(p[n] || 0))));
  const max = top <= 2 ? 2 : Math.ceil(top / 2) * 2;  // whole numbers at 0, half and top
  const { x, y, nodes } = axes(max, series, hourly, (v) => String(Math.round(v)));
  const lines = names.map((name) => h("polyline", {
    fill: "none", stroke: COLORS[name] || "#555", "stroke-width": 2, "data-series": name,
    points: series.map((p, i) => `${x(i).toFixed(1)},${y(Number(p[name] || 0)).toFixed(1)}`).join(" "),
  }));
  return h("figure", { class: "chart" },
    h("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title }, h("title", {}, title), nodes, lines),
    h("figcaption", {}, title), legend(names));
}

// A rate per interval (hard bounces or complaints over sent) against the guard's threshold (a dashed line).
export function rateChart(series, name, numerator, threshold, hourly, title) {
  const rates = series.map((p) => (Number(p.sent || 0) ? Number(p[numerator] || 0) / Number(p.sent) : 0));
  const max = Math.max(threshold * 1.5, ...rates) || 0.01;
  const { x, y, nodes } = axes(max, series, hourly, (v) => `${(v * 100).toFixed(v < 0.01 ? 2 : 1)} %`);
  const barWidth = Math.max(2, (W - PAD.left - PAD.right) / Math.max(1, series.length) - 4);
  return h("figure", { class: "chart" },
    h("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title }, h("title", {}, title), nodes,
      rates.map((rate, i) => h("rect", {
        x: (x(i) - barWidth / 2).toFixed(1), y: y(rate).toFixed(1), width: barWidth.toFixed(1),
        height: Math.max(0, y(0) - y(rate)).toFixed(1), fill: rate >= threshold ? "#c62828" : COLORS[name],
      })),
      h("line", { x1: PAD.left, x2: W - PAD.right, y1: y(threshold), y2: y(threshold), stroke: "#000", "stroke-dasharray": "6 4", "data-threshold": name }),
      h("text", { x: W - PAD.right, y: y(threshold) - 4, "text-anchor": "end", class: "tick" }, `guard pauses at ${(threshold * 100).toFixed(2)} %`)),
    h("figcaption", {}, title));
}
