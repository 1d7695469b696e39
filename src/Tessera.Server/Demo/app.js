"use strict";
// Demo of Tessera's authenticated real time: login → access token in memory, refresh token in an HttpOnly
// cookie; the socket sends the current token at every (re)connect through the auth callback, refreshes it
// in-band before it expires, and goes back to the login form when the session expires or is revoked.
const $ = (id) => document.getElementById(id);
const state = { token: null, me: null, socket: null, rooms: new Map(), current: null };
window.tesseraStats = { refreshes: 0, messages: 0 };

function show(view, notice = "") {
  $("login").hidden = view !== "login";
  $("chat").hidden = view !== "chat";
  $("logout").hidden = view !== "chat";
  $("notice").textContent = notice;
}

function setState(text) {
  const el = $("state");
  el.textContent = text;
  el.className = text;
}

async function post(path, body, bearer) {
  const headers = { "content-type": "application/json" };
  if (bearer) headers.authorization = "Bearer " + bearer;
  const response = await fetch(path, { method: "POST", headers, body: body ? JSON.stringify(body) : "", credentials: "same-origin" });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, data };
}

function claims(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(decodeURIComponent(escape(atob(payload))));
}

async function login(register) {
  const username = $("username").value.trim();
  const password = $("password").value;
  if (register) {
    const created = await post("/auth/register", { username, password });
    if (!created.ok) return show("login", created.data?.message ?? "Registration failed");
  }
  const result = await post("/auth/login", { username, password });
  if (!result.ok) return show("login", result.data?.message ?? "Login failed");
  state.token = result.data.token;
  state.me = claims(state.token);
  $("who").textContent = state.me.name;
  connect();
}

// Trades the refresh cookie for a new access token (rotation), then hands it to the live socket.
async function refresh() {
  const result = await post("/auth/refresh");
  if (!result.ok) return endSession(result.data?.code === "refresh_reused" ? "Your session was revoked." : "Your session expired.");
  state.token = result.data.token;
  const answer = await state.socket.timeout(5000).emitWithAck("auth:refresh", state.token).catch(() => null);
  if (answer?.ok) window.tesseraStats.refreshes++;
}

function connect() {
  const socket = io({ auth: (cb) => cb({ token: state.token }), transports: ["websocket", "polling"] });
  state.socket = socket;
  socket.on("connect", async () => {
    setState("connected");
    show("chat");
    for (const room of state.rooms.keys()) await join(room);   // after a reconnect, rejoin
  });
  socket.on("disconnect", (reason) => setState(reason === "io server disconnect" ? "disconnected" : "reconnecting"));
  socket.io.on("reconnect_attempt", () => setState("reconnecting"));
  socket.on("connect_error", async (err) => {
    if (err.data?.code === "token_expired") { await refresh(); socket.connect(); }
    else if (err.data?.code) endSession(err.message);
  });
  socket.on("auth:expiring", () => refresh());
  socket.on("auth:expired", () => endSession("Your session expired."));
  socket.on("auth:revoked", () => endSession("You were signed out."));
  socket.on("chat:message", (m) => {
    window.tesseraStats.messages++;
    addLine(m.room, "msg", m);
  });
  socket.on("presence", (p) => {
    const room = state.rooms.get(p.room);
    if (!room) return;
    if (p.joined) room.members.set(p.joined.sub, p.joined.name);
    if (p.left) room.members.delete(p.left.sub);
    addLine(p.room, "presence", { text: `${(p.joined ?? p.left).name} ${p.joined ? "joined" : "left"}` });
    render();
  });
}

function endSession(message) {
  state.socket?.disconnect();
  state.socket = null;
  state.token = null;
  state.rooms.clear();
  state.current = null;
  $("who").textContent = "";
  setState("disconnected");
  render();
  show("login", message);
}

async function join(name) {
  const answer = await state.socket.emitWithAck("chat:join", { room: name });
  if (!answer.ok) return alert("Cannot join: " + answer.code);
  const room = state.rooms.get(name) ?? { lines: [], members: new Map() };
  room.members = new Map(answer.members.map((m) => [m.sub, m.name]));
  state.rooms.set(name, room);
  state.current ??= name;
  render();
}

function addLine(roomName, kind, data) {
  const room = state.rooms.get(roomName);
  if (!room) return;
  room.lines.push({ kind, ...data });
  if (roomName === state.current) render();
}

function render() {
  $("rooms").replaceChildren(...[...state.rooms.keys()].map((name) => {
    const li = document.createElement("li");
    li.textContent = "# " + name;
    li.className = name === state.current ? "active" : "";
    li.onclick = () => { state.current = name; render(); };
    return li;
  }));
  const room = state.rooms.get(state.current);
  $("room-title").textContent = room ? "# " + state.current : "Join a room";
  $("messages").replaceChildren(...(room?.lines ?? []).map((line) => {
    const div = document.createElement("div");
    div.className = line.kind === "msg" ? "msg" : "presence";
    if (line.kind === "msg") {
      const from = document.createElement("span"); from.className = "from"; from.textContent = line.from.name;
      const text = document.createElement("span"); text.className = "text"; text.textContent = line.text;
      const at = document.createElement("span"); at.className = "at"; at.textContent = new Date(line.at).toLocaleTimeString();
      div.append(from, text, at);
    } else {
      div.textContent = line.text;
    }
    return div;
  }));
  $("messages").scrollTop = $("messages").scrollHeight;
  $("members").replaceChildren(...[...(room?.members.values() ?? [])].map((name) => {
    const li = document.createElement("li"); li.textContent = name; return li;
  }));
}

$("login-form").onsubmit = (e) => { e.preventDefault(); login(false); };
$("register-button").onclick = () => login(true);
$("join-form").onsubmit = (e) => { e.preventDefault(); const name = $("room-name").value.trim(); if (name) join(name); $("room-name").value = ""; };
$("send-form").onsubmit = async (e) => {
  e.preventDefault();
  const text = $("text").value;
  if (!text || !state.current) return;
  const answer = await state.socket.emitWithAck("chat:message", { room: state.current, text });
  if (answer.ok) $("text").value = ""; else alert("Not sent: " + answer.code);
};
$("logout").onclick = async () => {
  await post("/auth/logout", null, state.token);
  // The server revokes the session: auth:revoked follows and endSession runs; do it now too.
  endSession("You were signed out.");
};
show("login");
