// The localcloud console: polls GET api/snapshot once a second and redraws.
// Every value reaches the page through textContent (never innerHTML), so a request's fields are
// shown as the characters they are, markup included. The only change the page makes is to the
// fault rules, through PUT /_localcloud/faults (the admin API's own validation).
"use strict";

const REFRESH_MS = 1000;
const ADMIN = new URL("../", window.location.href); // .../_localcloud/
let outcomeFilter = "all";
let peekQueue = null;
let lastSnapshot = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function replace(id, ...children) {
  document.getElementById(id).replaceChildren(...children);
}

function setText(id, value) {
  document.getElementById(id).textContent = String(value);
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function keyValues(obj) {
  const box = el("div", { class: "kv" });
  for (const [key, value] of Object.entries(obj)) {
    const shown = value !== null && typeof value === "object" ? JSON.stringify(value) : value;
    box.append(el("span", { class: "muted" }, key), el("span", {}, shown ?? "–"));
  }
  return box;
}

// -- sections -------------------------------------------------------------------------------
function renderStack(stack) {
  const parts = [];
  if (!stack.deployed) parts.push(el("p", { class: "muted" }, "no template deployed"));
  parts.push(keyValues(stack.resources));
  for (const [name, fn] of Object.entries(stack.functions)) {
    parts.push(el("h3", {}, `function ${name}`), keyValues(fn));
  }
  for (const [name, trigger] of Object.entries(stack.triggers)) {
    parts.push(el("h3", {}, `trigger ${name}`), keyValues(trigger));
  }
  replace("stack", ...parts);
}

function renderQueues(queues) {
  const rows = queues.map((q) =>
    el("tr", { "data-queue": q.name },
      el("td", {}, q.name + (q.dead_letter_queue ? " (dead letters)" : "")),
      el("td", { "data-field": "visible" }, q.visible),
      el("td", { "data-field": "in_flight" }, q.in_flight),
      el("td", { "data-field": "delayed" }, q.delayed),
      el("td", {}, age(q.oldest_age_s)),
      el("td", {}, el("button", { type: "button", onclick: () => { peekQueue = q.name; render(); } }, "peek"))));
  replace("queues", ...rows);

  const letters = [];
  for (const q of queues.filter((x) => x.dead_letter_queue)) {
    const reasons = Object.entries(q.reasons || {});
    letters.push(el("h3", {}, `${q.name}: ${q.visible + q.in_flight + q.delayed} letters`));
    letters.push(el("p", { class: "muted" }, reasons.length
      ? "dead-lettered since start, by reason (from the trigger; a letter itself carries none):"
      : "nothing dead-lettered since start"));
    for (const [reason, count] of reasons) {
      letters.push(el("p", { "data-testid": "dead-letter-reason" }, `${count} × ${reason}`));
    }
  }
  replace("dead-letters", ...letters);

  const shown = queues.find((q) => q.name === peekQueue);
  if (!shown) { replace("peek"); return; }
  const items = shown.messages.map((m) =>
    el("div", { "data-testid": "peek-message" },
      el("h3", {}, `${m.message_id} · received ${m.dequeue_count}× · ${age(m.age_s)} old`),
      m.body !== null ? el("pre", {}, JSON.stringify(m.body, null, 2)) : el("p", { class: "muted" }, m.note)));
  replace("peek", el("h3", {}, `peek at ${shown.name} (first ${shown.messages.length})`),
    ...(items.length ? items : [el("p", { class: "muted" }, "empty")]));
}

function renderFunctions(functions) {
  const parts = [];
  for (const fn of functions) {
    parts.push(el("h3", {}, fn.name));
    parts.push(el("p", { "data-testid": "function-counts" },
      `${fn.invocations} invocations · ${fn.errors} errors · ${fn.cold_starts} cold starts`));
    const instances = fn.instances.map((i) =>
      el("tr", {}, el("td", {}, i.id), el("td", { class: i.busy ? "busy" : "idle" }, i.busy ? "busy" : "idle"),
        el("td", {}, i.invocations), el("td", {}, i.errors),
        el("td", {}, i.cold_start_s === null ? "–" : `${i.cold_start_s} s`)));
    parts.push(el("table", { "data-testid": "instances" },
      el("thead", {}, el("tr", {}, ...["instance", "state", "invocations", "errors", "cold start"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...instances)));
    const recent = fn.recent.map((r) =>
      el("tr", {}, el("td", {}, new Date(r.time * 1000).toLocaleTimeString()), el("td", {}, r.instance),
        el("td", {}, r.batch_size), el("td", {}, `${(r.duration_s * 1000).toFixed(0)} ms`),
        el("td", { class: r.result === "ok" ? "created" : "failed" }, r.result + (r.cold ? " (cold)" : "")),
        el("td", { class: "wrap" }, r.error ?? "")));
    parts.push(el("h3", {}, "last invocations"), el("table", { "data-testid": "invocations" },
      el("thead", {}, el("tr", {}, ...["ended", "instance", "batch", "duration", "result", "error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...recent)));
  }
  replace("functions", ...(parts.length ? parts : [el("p", { class: "muted" }, "no function deployed")]));
}

function drawChart(series, limit) {
  const canvas = document.getElementById("chart");
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const peak = Math.max(1, limit || 0, ...series.map((s) => s.answered + s.throttled + s.failed));
  const barWidth = width / series.length;
  const colours = { answered: "#1b7f3b", throttled: "#b45309", failed: "#b42318" };
  series.forEach((s, i) => {
    let y = height;
    for (const kind of ["answered", "throttled", "failed"]) {
      const h = (s[kind] / peak) * (height - 10);
      ctx.fillStyle = colours[kind];
      ctx.fillRect(i * barWidth + 1, y - h, barWidth - 2, h);
      y -= h;
    }
  });
  if (limit) {
    const y = height - (limit / peak) * (height - 10);
    ctx.strokeStyle = "#52606d";
    ctx.setLineDash([6, 4]);
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(width, y); ctx.stroke();
    ctx.setLineDash([]);
  }
}

function renderVpc(vpc) {
  setText("vpc-answered", vpc.last_minute.answered);
  setText("vpc-throttled", vpc.last_minute.throttled);
  setText("vpc-failed", vpc.last_minute.failed);
  setText("vpc-limit", vpc.rate_limit_qps === null ? "none" : `${vpc.rate_limit_qps}/s`);
  drawChart(vpc.series, vpc.rate_limit_qps);
  const regions = Object.entries(vpc.gateways_by_region);
  replace("gateways", regions.length
    ? keyValues(vpc.gateways_by_region)
    : el("p", { class: "muted" }, "no customer gateway yet"));
  replace("faults", ...vpc.faults.map((rule) => el("li", {}, JSON.stringify(rule))));
}

function renderOutcomes(outcomes) {
  setText("outcomes-created", outcomes.created);
  setText("outcomes-failed", outcomes.failed);
  const rows = outcomes.rows
    .filter((r) => outcomeFilter === "all" || r.outcome === outcomeFilter)
    .map((r) => el("tr", { "data-outcome": r.outcome },
      el("td", {}, r.time),
      el("td", { class: r.outcome }, r.outcome),
      el("td", { "data-field": "name" }, r.request.Name ?? ""),
      el("td", {}, r.request.IpAddress ?? ""),
      el("td", {}, r.outcome === "created" ? r.gateway_id : `${r.code}: ${r.message}`),
      el("td", {}, r.adopted === null ? "–" : r.adopted ? "yes" : "no"),
      el("td", {}, r.client_token)));
  replace("outcomes", ...rows);
}

function render() {
  if (!lastSnapshot) return;
  renderStack(lastSnapshot.stack);
  renderQueues(lastSnapshot.queues);
  renderFunctions(lastSnapshot.functions);
  renderVpc(lastSnapshot.vpc);
  renderOutcomes(lastSnapshot.outcomes);
}

// -- refresh ---------------------------------------------------------------------------------
async function refresh() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("api/snapshot", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    lastSnapshot = await response.json();
    render();
    status.textContent = `live · ${new Date(lastSnapshot.time * 1000).toLocaleTimeString()}`;
    status.classList.remove("stale");
  } catch (error) {
    status.textContent = `localcloud unreachable (${error.message}); retrying`;
    status.classList.add("stale");
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

// -- fault rules -----------------------------------------------------------------------------
function ruleFromForm(form) {
  const data = new FormData(form);
  const rule = { service: data.get("service") };
  const action = data.get("action").trim();
  if (action) rule.action = action;
  const probability = data.get("probability").trim();
  if (probability) rule.probability = Number(probability);
  const value = data.get("value").trim();
  const effect = data.get("effect");
  if (effect === "error") {
    rule.error = { code: value || "InternalError" };
    const status = data.get("status").trim();
    if (status) rule.error.status = Number(status);
  } else if (effect === "drop_response_after_commit") {
    rule.drop_response_after_commit = true;
  } else {
    rule[effect] = Number(value);
  }
  return rule;
}

async function putFaults(rules) {
  const response = await fetch(new URL("faults", ADMIN), {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(rules),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

async function currentFaults() {
  const response = await fetch(new URL("faults", ADMIN), { cache: "no-store" });
  return response.json();
}

document.addEventListener("DOMContentLoaded", () => {
  const message = document.getElementById("fault-message");
  document.getElementById("fault-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const rules = await putFaults([...(await currentFaults()), ruleFromForm(event.target)]);
      message.textContent = `${rules.length} rule(s) in force`;
      message.className = "created";
    } catch (error) {
      message.textContent = `refused: ${error.message}`;
      message.className = "failed";
    }
  });
  document.getElementById("clear-faults").addEventListener("click", async () => {
    try {
      await putFaults([]);
      message.textContent = "all rules cleared";
      message.className = "created";
    } catch (error) {
      message.textContent = `refused: ${error.message}`;
      message.className = "failed";
    }
  });
  document.getElementById("outcome-filter").addEventListener("change", (event) => {
    outcomeFilter = event.target.value;
    render();
  });
  refresh();
});
