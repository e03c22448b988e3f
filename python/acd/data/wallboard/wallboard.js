// The ACD wallboard page: signs in once (POST ./login, the browser keeps an HttpOnly session
// cookie), then renders every "snapshot" event of ./events. Plain DOM, no framework, no build.
// Text from the server only ever goes into textContent, never into HTML.
"use strict";

const AGENT_STATES = [
  ["available", "Available"],
  ["reserved", "Reserved"],
  ["on_call", "On call"],
  ["wrap_up", "Wrap-up"],
  ["break", "Break"],
  ["logged_out", "Logged out"],
];
const STATE_LABEL = Object.fromEntries(AGENT_STATES);

let source = null;
let lastSnapshotAt = 0;
let refreshMs = 1000;

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function percent(share) {
  return share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`;
}

function seconds(ms) {
  return ms === null || ms === undefined ? "–" : `${Math.round(ms / 1000)} s`;
}

function setStatus(state, text) {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = text;
}

function figure(name, label, value, levels, big) {
  const box = el("div", "figure" + (big ? " big" : ""));
  box.dataset.figure = name;
  if (levels && levels[name]) box.classList.add(`level-${levels[name]}`);
  box.append(el("div", "value", value), el("div", "label", label));
  return box;
}

function renderQueue(q) {
  const card = el("article", "queue");
  card.dataset.queue = q.id;
  if (q.level) card.classList.add(`level-${q.level}`);
  card.append(el("h3", "", q.name));
  const figures = el("div", "figures");
  const lv = q.levels;
  figures.append(
    figure("waiting", "calls waiting", String(q.waiting), lv, true),
    figure("longest_wait", "longest wait", duration(q.longest_wait_ms), lv, true),
    figure("sl", `SL today (${Math.round(q.sl_threshold_ms / 1000)} s)`, percent(q.sl), lv, true),
    figure("abandon_rate", "abandoned", percent(q.abandon_rate), lv),
    figure("asa", "ASA", seconds(q.asa_ms), lv),
    figure("aht", "AHT", seconds(q.aht_ms), lv),
    figure("answered", "answered / offered", `${q.answered} / ${q.offered}`, lv),
    figure("available", "agents available", String(q.agents.available), lv),
    figure("occupied", "on call / wrap-up", `${q.agents.on_call} / ${q.agents.wrap_up}`, lv),
  );
  card.append(figures);
  const agents = el("div", "queue-agents");
  for (const [key, label] of AGENT_STATES) {
    const chip = el("span", `state-${key}`, `${label} ${q.agents[key]}`);
    if (q.agents[key] === 0) chip.classList.add("none");
    chip.dataset.state = key;
    agents.append(chip);
  }
  card.append(agents);
  return card;
}

function renderAgent(a) {
  const tile = el("div", `agent state-${a.state}`);
  tile.dataset.agent = a.id;
  tile.dataset.state = a.state;
  tile.append(el("div", "name", a.name));
  const reason = a.state === "break" && a.reason ? ` (${a.reason})` : "";
  tile.append(el("div", "state", STATE_LABEL[a.state] + reason));
  tile.append(el("div", "time", duration(a.in_state_ms)));
  return tile;
}

function render(snap) {
  lastSnapshotAt = Date.now();
  refreshMs = snap.refresh_ms || refreshMs;
  $("tenant").textContent = `· ${snap.tenant}`;
  const zone = snap.timezone || "each queue's time zone";
  $("today").textContent = `today = since ${snap.reset_time} (${zone})`;
  $("clock").textContent = new Date(snap.at_ms).toLocaleTimeString();

  const summary = $("agent-summary");
  summary.replaceChildren(
    ...AGENT_STATES.map(([key, label]) => {
      const box = el("div", `count state-${key}`);
      box.dataset.state = key;
      box.append(el("div", "value", String(snap.agent_counts[key])), el("div", "label", label));
      return box;
    }),
  );
  $("alerts").replaceChildren(
    ...snap.alerts.map((a) => el("div", `alert ${a.severity}`, a.message)),
  );
  $("queues").replaceChildren(...snap.queues.map(renderQueue));
  $("agents").replaceChildren(...snap.agents.map(renderAgent));
  $("board").classList.remove("stale");
  $("board").hidden = false;
  $("login").hidden = true;
  $("logout").hidden = false;
  setStatus("live", "live");
}

function showLogin(message) {
  if (source) source.close();
  source = null;
  $("board").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  setStatus("signed-out", "signed out");
  $("token").focus();
}

function connect() {
  if (source) source.close();
  source = new EventSource("events" + location.search);
  source.addEventListener("snapshot", (e) => render(JSON.parse(e.data)));
  source.addEventListener("end", (e) => showLogin(JSON.parse(e.data).reason));
  source.onerror = () => {
    if (source && source.readyState === EventSource.CLOSED) {
      // Refused (a 401 or 403 ends an EventSource for good): find out why, or retry.
      source = null;
      setTimeout(start, 2000);
    } else {
      setStatus("connecting", "reconnecting");
    }
  };
}

async function start() {
  let response;
  try {
    response = await fetch("snapshot" + location.search, { credentials: "same-origin" });
  } catch (err) {
    setStatus("connecting", "no connection");
    setTimeout(start, 2000);
    return;
  }
  if (response.ok) {
    render(await response.json());
    connect();
  } else {
    const body = await response.json().catch(() => ({}));
    showLogin(response.status === 401 ? "" : body.error);
  }
}

async function login(token) {
  const response = await fetch("login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    showLogin(body.error || `sign-in failed (${response.status})`);
    return false;
  }
  return true;
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  $("token").value = "";
  if (token && (await login(token))) start();
});

$("logout").addEventListener("click", async () => {
  await fetch("logout", { method: "POST", credentials: "same-origin" });
  showLogin("");
});

// Marks the board stale when snapshots stop coming (the figures would lie otherwise).
setInterval(() => {
  if (source && lastSnapshotAt && Date.now() - lastSnapshotAt > 3 * refreshMs) {
    $("board").classList.add("stale");
    setStatus("stale", "stale");
  }
}, 1000);

// A wall display can be opened with the token in the URL's fragment (…/#token=…): the
// fragment never leaves the browser, and it is removed from the address bar at once.
(async () => {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) {
    history.replaceState(null, "", location.pathname + location.search);
    if (!(await login(token))) return;
  }
  start();
})();
