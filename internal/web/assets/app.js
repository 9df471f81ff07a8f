// custos dashboard: fleet view and twin page over the HTTP API, live
// through /v1/stream (Server-Sent Events). Plain JavaScript, no build step.
"use strict";

const $ = (s, el = document) => el.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const fmt = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
const dur = (s) => {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
  return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
};
const ago = (ts) => {
  const t = Date.parse(ts);
  if (!t) return "–";
  const d = (Date.now() - t) / 1000;
  if (Math.abs(d) < 60) return "just now";
  if (d > 0 && d < 3600) return Math.round(d / 60) + " min ago";
  return new Date(t).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
};
// dataAge says how old a twin's data is: now − event time of its newest
// reading (or of its creation), e.g. "data 3 h old". The title tells how
// late the last reading arrived (lag = record time − event time).
const dataAge = (t) => {
  const ts = Date.parse(t.last_reading || t.created);
  if (!ts) return "–";
  const s = Math.max(0, (Date.now() - ts) / 1000);
  if (s < 60) return "data fresh";
  if (s < 3600) return "data " + Math.floor(s / 60) + " min old";
  if (s < 172800) return "data " + Math.floor(s / 3600) + " h old";
  return "data " + Math.floor(s / 86400) + " d old";
};
const lagTitle = (t) => t.lag_ns ? `last reading arrived ${dur(t.lag_ns / 1e9)} after it was measured` : "";
const clock = (ts) => new Date(ts).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

// ---- API ----
let token = localStorage.getItem("custos_token") || "";
async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  if (r.status === 401) { askToken(); throw new Error("unauthorized"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { const e = new Error(body.error || r.statusText); e.status = r.status; e.code = body.code; throw e; }
  return body;
}
function askToken() {
  const d = $("#tokenDlg");
  if (d.open) return;
  $("#tokenIn").value = token;
  d.showModal();
}
$("#tokenBtn").onclick = askToken;
$("#tokenDlg").addEventListener("close", () => {
  if ($("#tokenDlg").returnValue !== "ok") return;
  token = $("#tokenIn").value.trim();
  localStorage.setItem("custos_token", token);
  location.reload();
});

// ---- state ----
const twins = new Map(); // id -> twin JSON
const feed = [];         // latest alerts, newest first
let filterChip = "";

// health: red = in excursion or compromised, amber = had alerts,
// grey = delivered/closed, green = in band.
function health(t) {
  const v = t.view || {};
  if (t.status === "compromised" || v.compromised || v.in_excursion) return "red";
  if (t.status === "closed" || t.status === "delivered") return t.alerts > 0 ? "amber" : "grey";
  if (t.alerts > 0) return "amber";
  return "green";
}
const statusClass = (t) => ({ red: "red", amber: "amber", green: "green" })[health(t)] || "";

// ---- fleet view ----
let renderQueued = false;
function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderFleet(); });
}

function renderCounts() {
  const c = { all: twins.size, green: 0, amber: 0, red: 0, grey: 0 };
  for (const t of twins.values()) c[health(t)]++;
  const chip = (k, label, cls) => `<span class="chip ${filterChip === k ? "on" : ""}" data-chip="${k}">${cls ? `<i class="h-${cls}"></i>` : ""}${label} <b id="count-${k || "all"}">${c[k || "all"]}</b></span>`;
  $("#counts").innerHTML = chip("", "twins") + chip("green", "in band", "green") + chip("amber", "had alerts", "amber") + chip("red", "excursion / compromised", "red") + chip("grey", "finished", "grey");
  for (const el of document.querySelectorAll("[data-chip]")) el.onclick = () => { filterChip = el.dataset.chip; $("#fHealth").value = filterChip; queueRender(); if (location.hash.startsWith("#/twin")) location.hash = "#/"; };
}

function fillSelect(sel, values) {
  const cur = sel.value;
  const have = new Set([...sel.options].map((o) => o.value));
  for (const v of [...values].sort()) if (v && !have.has(v)) sel.add(new Option(v, v));
  sel.value = cur;
}

const MAX_ROWS = 500;
function renderFleet() {
  renderCounts();
  fillSelect($("#fStatus"), new Set([...twins.values()].map((t) => t.status)));
  fillSelect($("#fKind"), new Set([...twins.values()].map((t) => t.kind)));
  const q = $("#search").value.trim().toLowerCase();
  const st = $("#fStatus").value, kd = $("#fKind").value, hl = $("#fHealth").value || filterChip;
  const rank = { red: 0, amber: 1, green: 2, grey: 3 };
  const rows = [...twins.values()].filter((t) =>
    (!st || t.status === st) && (!kd || t.kind === kd) && (!hl || health(t) === hl) &&
    (!q || t.id.toLowerCase().includes(q) || (t.custodian || "").toLowerCase().includes(q) || t.kind.toLowerCase().includes(q)))
    .sort((a, b) => rank[health(a)] - rank[health(b)] || a.id.localeCompare(b.id));
  const tb = $("#fleet tbody");
  const html = rows.slice(0, MAX_ROWS).map((t) => {
    const v = t.view || {}, h = health(t);
    return `<tr data-twin="${esc(t.id)}" data-health="${h}">
      <td><span class="dot h-${h}" title="${h}"></span></td>
      <td><a href="#/twin/${encodeURIComponent(t.id)}">${esc(t.id)}</a></td>
      <td>${esc(t.kind)}</td><td>${esc(t.custodian || "–")}</td>
      <td><span class="badge ${statusClass(t)}">${esc(t.status)}</span></td>
      <td class="num">${fmt(v.temperature_c)}</td><td class="num">${v.time_out_of_band_s ? dur(v.time_out_of_band_s) : "–"}</td>
      <td class="num">${t.alerts || ""}</td><td class="muted" title="${esc(lagTitle(t))}">${dataAge(t)}</td></tr>`;
  }).join("");
  tb.innerHTML = html;
  for (const tr of tb.rows) tr.onclick = (e) => { if (e.target.tagName !== "A") location.hash = "#/twin/" + encodeURIComponent(tr.dataset.twin); };
  $("#shown").textContent = rows.length > MAX_ROWS ? `showing ${MAX_ROWS} of ${rows.length}` : `${rows.length} shown`;
  $("#empty").hidden = twins.size > 0;
}
for (const id of ["#search", "#fStatus", "#fKind", "#fHealth"]) $(id).addEventListener("input", () => { if (id === "#fHealth") filterChip = $(id).value; queueRender(); });

function renderFeed() {
  $("#feed").innerHTML = feed.slice(0, 60).map((a) => `<li class="sev-${esc(a.severity)}">
    <a href="#/twin/${encodeURIComponent(a.twin)}">${esc(a.twin)}</a> · <b>${esc(a.code)}</b><br>${esc(a.message)}<br><span class="when">${clock(a.ts)}</span></li>`).join("") || `<li class="muted">none</li>`;
}

function toast(a) {
  const el = document.createElement("div");
  el.className = "toast " + (a.severity === "critical" ? "critical" : "");
  el.innerHTML = `<b>${esc(a.twin)}</b> · ${esc(a.code)}<br><span>${esc(a.message)}</span>`;
  $("#toasts").append(el);
  setTimeout(() => el.remove(), 6000);
  while ($("#toasts").children.length > 4) $("#toasts").firstChild.remove();
}

async function loadFleet() {
  let after = "";
  for (let page = 0; page < 50; page++) {
    const r = await api("/v1/twins?limit=1000" + (after ? "&after=" + encodeURIComponent(after) : ""));
    for (const t of r.twins) twins.set(t.id, t);
    if (!r.next) break;
    after = r.next;
  }
  const a = await api("/v1/alerts?limit=60");
  feed.push(...a.alerts);
  renderFeed();
  queueRender();
}

// ---- live stream ----
let es;
function connect() {
  const url = "/v1/stream" + (token ? "?access_token=" + encodeURIComponent(token) : "");
  es = new EventSource(url);
  const live = $("#live");
  es.addEventListener("hello", () => { live.className = "live"; live.lastChild.textContent = "live"; });
  es.onerror = () => { live.className = "live off"; live.lastChild.textContent = "reconnecting"; };
  es.addEventListener("state", (e) => {
    const t = JSON.parse(e.data);
    const old = twins.get(t.id);
    if (old && old.seq > t.seq) return;
    twins.set(t.id, t);
    queueRender();
    if (current && current.id === t.id) onTwinState(t);
  });
  es.addEventListener("alert", (e) => {
    const a = JSON.parse(e.data);
    feed.unshift(a);
    if (feed.length > 200) feed.length = 200;
    renderFeed();
    toast(a);
    if (current && current.id === a.twin) { current.alerts.push(a); renderTwinAlerts(); drawChart(); }
  });
}

// ---- twin page ----
let current = null; // {id, twin, readings, alerts, custody, lastSeq}

async function openTwin(id) {
  $("#fleetView").hidden = true;
  $("#twinView").hidden = false;
  current = { id, twin: null, readings: [], alerts: [], custody: [], lastSeq: 0 };
  document.title = "custos · " + id;
  $("#tId").textContent = id;
  $("#chart").innerHTML = "";
  try {
    const t = await api("/v1/twins/" + encodeURIComponent(id));
    if (!current || current.id !== id) return;
    current.twin = t;
    renderTwinHead();
    await Promise.all([loadReadings(), loadAlerts(), loadCustody(), loadAnchoring()]);
  } catch (e) {
    $("#tMeta").textContent = "error: " + e.message;
  }
}

async function loadReadings() {
  const c = current;
  for (let page = 0; page < 20; page++) {
    const r = await api(`/v1/twins/${encodeURIComponent(c.id)}/history?kind=reading&limit=1000&after=${c.lastSeq}`);
    for (const rec of r.records) {
      c.lastSeq = Math.max(c.lastSeq, rec.seq);
      if (rec.event.type === "temperature") c.readings.push({ t: Date.parse(rec.event.ts), v: rec.event.value, seq: rec.seq });
    }
    if (!r.next) break;
  }
  if (current === c) drawChart();
}
async function loadAlerts() {
  const r = await api(`/v1/twins/${encodeURIComponent(current.id)}/alerts?limit=1000`);
  current.alerts = r.alerts;
  renderTwinAlerts();
}
async function loadCustody() {
  const r = await api(`/v1/twins/${encodeURIComponent(current.id)}/events?limit=1000`);
  current.custody = r.records;
  const li = (rec) => {
    const e = rec.event;
    let what = esc(e.kind);
    if (e.kind === "create") what = `created as <b>${esc(e.twin_kind)}</b>` + (e.custodian ? ` held by <b>${esc(e.custodian)}</b>` : "");
    if (e.kind === "custody") what = `custody <b>${esc(e.from || "–")}</b> → <b>${esc(e.to)}</b>`;
    if (e.kind === "status") what = `status <b>${esc(e.status)}</b>`;
    if (e.kind === "aggregate") what = `loaded ${e.children.map(esc).join(", ")}`;
    if (e.kind === "disaggregate") what = `unloaded ${e.children.map(esc).join(", ")}`;
    return `<li class="${esc(e.kind)}">${what}<br><span class="muted small">${clock(e.ts)} · seq ${rec.seq}</span></li>`;
  };
  $("#tCustody").innerHTML = r.records.map(li).join("") || `<li class="muted">none</li>`;
}
function renderTwinAlerts() {
  $("#tAlerts").innerHTML = [...current.alerts].reverse().map((a) => `<li class="sev-${esc(a.severity)}"><b>${esc(a.code)}</b> · ${esc(a.severity)}<br>${esc(a.message)}<br><span class="when">${clock(a.ts)} · seq ${a.seq}</span></li>`).join("") || `<li class="muted">none</li>`;
}

function renderTwinHead() {
  const t = current.twin, v = t.view || {};
  const h = health(t);
  $("#tStatus").className = "badge " + statusClass(t);
  $("#tStatus").textContent = t.status;
  $("#twinView").dataset.health = h;
  $("#tMeta").innerHTML = `${esc(t.kind)} · custodian <b>${esc(t.custodian || "–")}</b> · contract ${esc(t.contract.name)} ${esc(t.contract.version)}` +
    (t.parent ? ` · in <a href="#/twin/${encodeURIComponent(t.parent)}">${esc(t.parent)}</a>` : "") +
    (t.children && t.children.length ? ` · holds ${t.children.map((c) => `<a href="#/twin/${encodeURIComponent(c)}">${esc(c)}</a>`).join(", ")}` : "") +
    ` · seq ${t.seq} · updated ${ago(t.updated)} · <span id="tData" title="${esc(lagTitle(t))}">${dataAge(t)}</span>`;
  const band = v.band || {};
  const budget = v.excursion_budget_s, out = v.time_out_of_band_s || 0;
  const pct = budget ? Math.min(100, (100 * out) / budget) : 0;
  const tempCls = v.in_excursion ? "red" : v.temperature_c === null || v.temperature_c === undefined ? "" : "green";
  $("#kpis").innerHTML = `
    <div class="kpi"><div class="l">temperature</div><div class="v ${tempCls}" id="kTemp">${fmt(v.temperature_c)} °C</div><div class="muted small">band ${fmt(band.min_c)}–${fmt(band.max_c)} °C</div></div>
    <div class="kpi"><div class="l">mean kinetic temp.</div><div class="v">${fmt(v.mkt_c)} °C</div><div class="muted small">ΔH/R = 10000 K</div></div>
    <div class="kpi"><div class="l">time out of band</div><div class="v ${out > 0 ? (pct >= 100 ? "red" : "amber") : "green"}">${dur(out)}</div>
      <div class="bar ${pct >= 100 ? "over" : ""}"><span style="width:${pct}%"></span></div><div class="muted small">budget ${dur(budget)}</div></div>
    <div class="kpi"><div class="l">readings</div><div class="v">${v.readings ?? "–"}</div><div class="muted small">${v.late_readings || 0} late · ${v.other_readings || 0} other</div></div>
    <div class="kpi"><div class="l">alerts</div><div class="v ${t.alerts ? "amber" : ""}">${t.alerts}</div><div class="muted small">digest ${esc(String(t.digest).slice(0, 12))}…</div></div>`;
}

let refreshTimer = null;
function onTwinState(t) {
  current.twin = t;
  renderTwinHead();
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    if (!current) return;
    await loadReadings().catch(() => {});
    if (current) loadCustody().catch(() => {});
  }, 300);
}

// drawChart draws temperature over time as SVG: the allowed band shaded,
// out-of-band stretches shaded red, out-of-band readings in red and alerts
// as dashed vertical lines.
function drawChart() {
  const c = current;
  if (!c || !c.twin) return;
  const el = $("#chart");
  const pts = c.readings;
  const v = c.twin.view || {}, band = v.band || {};
  const params = c.twin.params || {};
  const lo = band.min_c ?? params.min_c, hi = band.max_c ?? params.max_c;
  $("#chartNote").textContent = pts.length ? `${pts.length} readings` : "";
  if (!pts.length) { el.innerHTML = `<p class="empty">No temperature readings yet.</p>`; return; }
  const W = Math.max(el.clientWidth, 600), H = 320, L = 46, R = 14, T = 12, B = 30;
  let t0 = pts[0].t, t1 = pts[pts.length - 1].t;
  if (t1 - t0 < 60000) { t0 -= 30000; t1 += 30000; }
  let y0 = Math.min(...pts.map((p) => p.v)), y1 = Math.max(...pts.map((p) => p.v));
  if (lo !== undefined) { y0 = Math.min(y0, lo); y1 = Math.max(y1, hi); }
  const pad = Math.max(1, (y1 - y0) * 0.12); y0 = Math.floor(y0 - pad); y1 = Math.ceil(y1 + pad);
  const X = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const out = (y) => lo !== undefined && (y < lo || y > hi);
  let s = `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="temperature chart">`;
  const step = Math.max(1, Math.ceil((y1 - y0) / 8));
  for (let y = Math.ceil(y0); y <= y1; y += step) s += `<line class="grid" x1="${L}" x2="${W - R}" y1="${Y(y)}" y2="${Y(y)}"/><text x="${L - 6}" y="${Y(y) + 4}" text-anchor="end">${y}</text>`;
  const nt = 6;
  for (let i = 0; i <= nt; i++) { const t = t0 + ((t1 - t0) * i) / nt; s += `<text x="${X(t)}" y="${H - 10}" text-anchor="${i === 0 ? "start" : i === nt ? "end" : "middle"}">${new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</text>`; }
  if (lo !== undefined) {
    s += `<rect class="band" x="${L}" width="${W - L - R}" y="${Y(hi)}" height="${Y(lo) - Y(hi)}"/>`;
    s += `<line class="bandline" x1="${L}" x2="${W - R}" y1="${Y(hi)}" y2="${Y(hi)}"/><line class="bandline" x1="${L}" x2="${W - R}" y1="${Y(lo)}" y2="${Y(lo)}"/>`;
    // excursions: from an out-of-band reading to the next in-band one.
    for (let i = 0; i < pts.length; i++) {
      if (!out(pts[i].v)) continue;
      let j = i; while (j + 1 < pts.length && out(pts[j + 1].v)) j++;
      const end = j + 1 < pts.length ? pts[j + 1].t : pts[j].t;
      s += `<rect class="exc" x="${X(pts[i].t)}" width="${Math.max(2, X(end) - X(pts[i].t))}" y="${T}" height="${H - T - B}"/>`;
      i = j;
    }
  }
  for (const a of c.alerts) {
    const t = Date.parse(a.ts); if (t < t0 || t > t1) continue;
    s += `<line class="al ${esc(a.severity)}" x1="${X(t)}" x2="${X(t)}" y1="${T}" y2="${H - B}"><title>${esc(a.code)}: ${esc(a.message)}</title></line>`;
  }
  s += `<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${H - B}"/><line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>`;
  s += `<polyline class="line" points="${pts.map((p) => X(p.t).toFixed(1) + "," + Y(p.v).toFixed(1)).join(" ")}"/>`;
  const r = pts.length > 400 ? 1.5 : 3;
  for (const p of pts) if (out(p.v) || pts.length <= 400) s += `<circle class="pt ${out(p.v) ? "bad" : ""}" cx="${X(p.t).toFixed(1)}" cy="${Y(p.v).toFixed(1)}" r="${out(p.v) ? r + 0.8 : r}"><title>${fmt(p.v, 2)} °C at ${clock(p.t)}</title></circle>`;
  el.innerHTML = s + "</svg>";
}
window.addEventListener("resize", () => { if (current) drawChart(); });

async function loadAnchoring() {
  const body = $("#anchorBody");
  let st;
  try { st = await api("/v1/anchors"); } catch (e) {
    body.innerHTML = e.code === "anchoring_disabled" ? "Anchoring is not enabled on this runtime." : "Anchoring status unavailable: " + esc(e.message);
    return;
  }
  const id = current.id, seq = current.twin.seq;
  const tokenQ = token ? "&access_token=" + encodeURIComponent(token) : "";
  body.innerHTML = `<div class="anchor-grid">
     <div><span>chain</span>${esc(st.chain_id ?? "–")}</div><div><span>contract</span><code>${esc(String(st.contract || "–").slice(0, 14))}…</code></div>
     <div><span>epochs</span>${esc(st.epochs ?? "–")}</div><div><span>last confirmed</span>${esc(st.last_confirmed ?? "–")}</div>
     <div><span>pending twins</span>${esc(st.pending_twins ?? "–")}</div><div><span>unconfirmed</span>${esc(st.unconfirmed ?? "–")}</div></div>
    <div id="proofLine" class="muted">checking proof of seq ${seq}…</div><div id="verifyOut" class="verify"></div>`;
  try {
    const proof = await api(`/v1/twins/${encodeURIComponent(id)}/proof?seq=${seq}`);
    current.proof = proof;
    $("#proofLine").innerHTML = `Anchored in epoch ${esc(proof.epoch ?? "?")}. <a href="/v1/twins/${encodeURIComponent(id)}/proof?seq=${seq}&download=1${tokenQ}" download>Download proof</a> <button id="verifyBtn">Verify</button>`;
    $("#verifyBtn").onclick = verifyProof;
  } catch (e) {
    $("#proofLine").textContent = e.code === "not_anchored" ? `seq ${seq} is not anchored yet; it will be in a coming epoch.` : "proof: " + e.message;
    if (e.code === "not_anchored") {
      const c = current;
      setTimeout(() => { if (current === c) loadAnchoring().catch(() => {}); }, 3000);
    }
  }
}
async function verifyProof() {
  const out = $("#verifyOut");
  out.textContent = "verifying against the chain…";
  try {
    const rep = await api("/v1/verify", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(current.proof) });
    const checks = rep.checks || rep.Checks || [];
    const ok = rep.ok ?? rep.OK ?? checks.every((c) => c.ok ?? c.OK);
    out.innerHTML = `<b class="${ok ? "" : "red"}">${ok ? "✓ proof verified" : "✗ proof failed"}</b><ul>` +
      checks.map((c) => `<li class="${(c.ok ?? c.OK) ? "ok" : "fail"}">${esc(c.name ?? c.Name)}: ${esc(c.detail ?? c.Detail ?? "")}</li>`).join("") + "</ul>";
  } catch (e) { out.textContent = "verify: " + e.message; }
}

// ---- routing ----
function route() {
  const m = location.hash.match(/^#\/twin\/(.+)$/);
  if (m) { openTwin(decodeURIComponent(m[1])); return; }
  current = null;
  document.title = "custos · fleet";
  $("#twinView").hidden = true;
  $("#fleetView").hidden = false;
  queueRender();
}
window.addEventListener("hashchange", route);
setInterval(() => { if (!current) queueRender(); }, 30000);

loadFleet().catch((e) => console.error(e)).finally(() => { connect(); route(); });
