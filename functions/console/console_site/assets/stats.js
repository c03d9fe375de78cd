// Stats: GET /v1/stats per day or hour, for one domain or tag, as charts; rates against the guard.
import { CONSOLE_BASE, get } from "./api.js";
import { clear, dl, field, formData, h, notice, pct, table } from "./dom.js";
import { countsChart, rateChart } from "./chart.js";

const METRICS = ["sent", "delivered", "bounced", "complained", "opened", "clicked"];

async function thresholds() {
  try {
    const response = await fetch(new URL("config.json", CONSOLE_BASE), { cache: "no-store", credentials: "omit" });
    const config = await response.json();
    return { bounce: config.guard_bounce_rate / 100, complaint: config.guard_complaint_rate / 100 };
  } catch {
    return { bounce: 0.04, complaint: 0.0008 };
  }
}

export async function statsView(root, context) {
  const guard = await thresholds();
  let domains = [];
  // The key's own domains, where it may read them (its credential, with the admin permission).
  if (context.caps.admin) domains = (await get(`credentials/${encodeURIComponent(context.username)}`)).domains || [];
  const output = h("div", { id: "stats-output" });
  const form = h("form", { class: "filters", onsubmit: (event) => { event.preventDefault(); draw(formData(event.currentTarget)); } },
    h("div", { class: "grid" },
      field("Interval", h("select", { name: "interval" }, h("option", { value: "day" }, "per day (30 days)"), h("option", { value: "hour" }, "per hour (48 hours)"))),
      field("Domain", domains.length
        ? h("select", { name: "domain" }, h("option", { value: "" }, "all"), domains.map((d) => h("option", { value: d }, d)))
        : h("input", { name: "domain", placeholder: "all of this key's domains" })),
      field("Tag", h("input", { name: "tag", placeholder: "any" }))),
    h("button", { type: "submit" }, "Show"));
  root.append(h("h1", {}, "Stats"), form, output);

  async function draw(filters) {
    clear(output, h("p", { class: "muted" }, "Loading…"));
    const hourly = filters.interval === "hour";
    const query = { ...filters };
    if (hourly) query.since = new Date(Date.now() - 48 * 3600 * 1000).toISOString();
    let stats;
    try {
      stats = await get("stats", query);
    } catch (error) {
      clear(output, notice("error", error.message));
      return;
    }
    const t = stats.totals;
    clear(output,
      h("div", { class: "totals" }, METRICS.map((m) => h("div", { class: "total", "data-metric": m }, h("span", { class: "number" }, String(t[m] ?? 0)), h("span", {}, m)))),
      dl([
        ["Window", `${stats.since} → ${stats.until}`],
        ["Bounce rate", `${pct(stats.rates.bounce)} (guard pauses a domain at ${pct(guard.bounce)})`],
        ["Complaint rate", `${pct(stats.rates.complaint)} (guard pauses a domain at ${pct(guard.complaint)})`],
        ["Open / click rate", `${pct(stats.rates.open)} / ${pct(stats.rates.click)}`],
      ]),
      t.sent === 0 ? h("p", { class: "empty" }, "Nothing sent in this window yet: the charts fill in as messages go out.") : null,
      countsChart(stats.series, METRICS, hourly, `Recipients per ${hourly ? "hour" : "day"}`),
      h("div", { class: "two" },
        rateChart(stats.series, "bounce", "bounced", guard.bounce, hourly, "Bounce rate against the guard"),
        rateChart(stats.series, "complaint", "complained", guard.complaint, hourly, "Complaint rate against the guard")));
    if (domains.length > 1 && !filters.domain) {
      const rows = await Promise.all(domains.map(async (domain) => {
        const s = await get("stats", { ...query, domain });
        return [domain, ...METRICS.map((m) => String(s.totals[m] ?? 0)), pct(s.rates.bounce), pct(s.rates.complaint)];
      }));
      output.append(h("h2", {}, "Per domain"), table(["Domain", ...METRICS, "bounce", "complaint"], rows, ""));
    }
  }
  await draw({ interval: "day" });
}
