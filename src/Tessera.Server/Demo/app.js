// Demo of Tessera's authenticated real time, on the tessera-client package (clients/js): the access token lives in
// memory, the refresh token in an HttpOnly cookie. A reload resumes the session from that cookie; the socket sends
// the current token at every (re)connect and refreshes it in-band before it expires (the package does both); the
// page goes back to the login form, saying why, when the user logs out or the session is revoked or expires.
import { TesseraClient, TesseraAuthError } from "/tessera-client/index.js";

const $ = (id) => document.getElementById(id);
const SUGGESTED_ROOM = "lobby";
const ACK_TIMEOUT = 10_000;
const MESSAGES = {
  loggedOut: "You logged out.",
  revoked: "Your session ended elsewhere.",
  expired: "Your session expired.",
};
// Read by the browser tests: in-band refreshes seen (new tokens after the first of a session) and messages received.
const stats = (window.tesseraStats = { refreshes: 0, messages: 0 });

const client = new TesseraClient({
  io: window.io,
  credentials: "cookie",
  socketOptions: { transports: ["websocket", "polling"] },
});

const state = {
  socket: null,
  rooms: new Map(), // name → { name, log, members: Map(sub → name), unread }
  current: null,
  inSession: false,
  loggingOut: false,
};

// ---- views and announcements ----

function setView(view) {
  document.documentElement.dataset.view = view;
  $("loading").hidden = view !== "loading";
  $("login").hidden = view !== "login";
  $("chat").hidden = view !== "chat";
  $("logout").hidden = view !== "chat";
}

/** The notice above the views (a polite live region): kind is info, warning or error; "" clears it. */
function notify(text, kind = "info") {
  const notice = $("notice");
  notice.textContent = text;
  notice.className = text ? kind : "";
}

const STATE_TEXT = { offline: "Signed out", connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…", disconnected: "Disconnected" };
function setState(kind) {
  const el = $("state");
  if (el.className === kind) return; // unchanged: nothing new to announce
  el.className = kind;
  el.textContent = STATE_TEXT[kind];
}

function describe(code) {
  switch (code) {
    case "invalid_room": return "a room name has 1 to 64 characters.";
    case "too_many_rooms": return "you are in too many rooms; leave one first.";
    case "rate_limited": return "too many messages at once; wait a moment.";
    case "not_member": return "you are not in this room.";
    case "text_too_long": return "the message is over 4,000 characters.";
    case "timeout": return "the server did not answer in time.";
    case "disconnected": return "not connected to the server.";
    default: return code ? `refused (${code}).` : "refused.";
  }
}

function errorText(error, fallback) {
  if (error instanceof TesseraAuthError) {
    if (error.status === 429) return "Too many attempts. Wait a minute and try again.";
    if (error.status === 503) return "The server is busy. Try again in a moment.";
    return error.message || fallback;
  }
  return error instanceof TypeError ? "Cannot reach the server. Check the connection and try again." : fallback;
}

// ---- signing in and out ----

async function start() {
  setView("loading");
  let resumed = false;
  try {
    resumed = await client.resume();
  } catch {
    resumed = false;
  }
  if (resumed) beginSession();
  else setView("login");
}

async function signIn(register) {
  const form = $("login-form");
  if (!form.reportValidity()) return;
  const username = $("username").value.trim();
  const password = $("password").value;
  setBusy(true);
  notify("");
  try {
    if (register) await client.register(username, password);
    await client.login(username, password);
  } catch (error) {
    notify(errorText(error, register ? "Registration failed." : "Login failed."), "error");
    setBusy(false);
    (error instanceof TesseraAuthError && error.status === 401 ? $("password") : $("username")).focus();
    return;
  }
  setBusy(false);
  $("password").value = "";
  beginSession();
  // The button that had the focus is gone with the login form: the keyboard goes on from the room field.
  $("room-name").focus();
}

function setBusy(busy) {
  for (const id of ["login-button", "register-button"]) $(id).disabled = busy;
  $("login-form").setAttribute("aria-busy", String(busy));
}

function beginSession() {
  state.inSession = true;
  state.loggingOut = false;
  notify("");
  $("who").textContent = $("who").title = client.user?.name ?? "";
  setView("chat");
  setState("connecting");
  renderRooms();
  const socket = client.connect();
  state.socket = socket;
  const mine = (handler) => (...args) => { if (state.socket === socket) handler(...args); };
  socket.on("connect", mine(async () => {
    setState("connected");
    // After a reconnect the server may have forgotten the rooms (unless the session was recovered): join them again.
    for (const name of [...state.rooms.keys()]) await join(name, { select: false });
  }));
  socket.on("disconnect", mine((reason) => setState(reason === "io server disconnect" || reason === "io client disconnect" ? "disconnected" : "reconnecting")));
  socket.io.on("reconnect_attempt", mine(() => setState("reconnecting")));
  // Refusals of the token are the package's to handle (refresh and retry once, else "revoked" / "expired").
  socket.on("connect_error", mine(() => { if (!socket.active) setState("disconnected"); }));
  socket.on("chat:message", mine(onMessage));
  socket.on("presence", mine(onPresence));
}

const RENEW_TROUBLE = "Cannot renew the session right now; still trying.";
client.on("token", () => {
  if (!state.inSession) return;
  stats.refreshes++;
  if ($("notice").textContent === RENEW_TROUBLE) notify("");
});
// The package ends the session itself (tokens forgotten, sockets disconnected) and says why: revoked (logout or
// logout-all elsewhere, another tab's logout, refresh reuse, a disabled user) or expired. A refresh cookie that is
// gone (past its Max-Age) is an expiry too, although the package reports it as refresh_missing.
client.on("revoked", (detail) => {
  if (state.loggingOut) endSession(MESSAGES.loggedOut, "info");
  else if (detail?.code === "refresh_missing") endSession(MESSAGES.expired, "warning");
  else endSession(MESSAGES.revoked, "warning");
});
client.on("expired", () => endSession(MESSAGES.expired, "warning"));
// Network trouble, 429, 5xx: the session may well be fine, and the socket keeps its token until exp.
client.on("refresh-failed", () => {
  if (state.inSession) notify(RENEW_TROUBLE, "warning");
});

async function logOut() {
  state.loggingOut = true;
  try {
    await client.logout();
  } catch (error) {
    endSession("You are signed out on this device, but the server could not be told: " + errorText(error, "the request failed."), "warning");
    return;
  }
  endSession(MESSAGES.loggedOut, "info");
}

function endSession(message, kind) {
  if (!state.inSession) return;
  state.inSession = false;
  const socket = state.socket;
  state.socket = null;
  socket?.disconnect();
  for (const room of state.rooms.values()) room.log.remove();
  state.rooms.clear();
  state.current = null;
  $("who").textContent = $("who").title = "";
  $("join-error").textContent = "";
  $("send-error").textContent = "";
  $("text").value = "";
  setState("offline");
  render();
  setView("login");
  notify(message, kind);
  ($("username").value ? $("password") : $("username")).focus();
}

// ---- rooms and messages ----

function roomFor(name) {
  let room = state.rooms.get(name);
  if (!room) {
    const log = document.createElement("div");
    log.className = "log";
    log.setAttribute("role", "log");
    log.setAttribute("aria-label", `Messages in #${name}`);
    log.hidden = true;
    $("messages").append(log);
    room = { name, log, members: new Map(), unread: 0 };
    state.rooms.set(name, room);
  }
  return room;
}

async function join(name, { select = true } = {}) {
  const socket = state.socket;
  if (!socket) return false;
  let answer;
  try {
    answer = await socket.timeout(ACK_TIMEOUT).emitWithAck("chat:join", { room: name });
  } catch {
    answer = { ok: false, code: socket.connected ? "timeout" : "disconnected" };
  }
  if (state.socket !== socket) return false;
  if (!answer?.ok) {
    $("join-error").textContent = `Cannot join #${name}: ${describe(answer?.code)}`;
    return false;
  }
  $("join-error").textContent = "";
  const room = roomFor(name);
  room.members = new Map(answer.members.map((m) => [m.sub, m.name]));
  if (select || !state.current) state.current = name;
  render();
  return true;
}

function select(name) {
  state.current = name;
  render();
}

function onMessage(m) {
  stats.messages++;
  const room = state.rooms.get(m.room);
  if (!room) return;
  const line = document.createElement("div");
  line.className = m.from?.sub === client.user?.sub ? "msg mine" : "msg";
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = m.from?.name ?? "?";
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = m.text;
  const at = document.createElement("time");
  at.className = "at";
  const when = new Date(m.at);
  at.dateTime = when.toISOString();
  at.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  line.append(from, " ", text, " ", at);
  append(room, line);
  if (room.name !== state.current) {
    room.unread++;
    renderRooms();
  }
}

function onPresence(p) {
  const room = state.rooms.get(p.room);
  if (!room) return;
  const who = p.joined ?? p.left;
  if (p.joined) room.members.set(p.joined.sub, p.joined.name);
  if (p.left) room.members.delete(p.left.sub);
  const line = document.createElement("div");
  line.className = "presence";
  line.textContent = `${who.name} ${p.joined ? "joined" : "left"}`;
  append(room, line);
  if (room.name === state.current) renderMembers();
}

function append(room, line) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  room.log.append(line);
  if (room.name === state.current && atBottom) box.scrollTop = box.scrollHeight;
}

function render() {
  const room = state.rooms.get(state.current);
  if (room) room.unread = 0;
  renderRooms();
  $("room-title").textContent = room ? "# " + room.name : "Join a room";
  $("messages-empty").hidden = Boolean(room);
  for (const other of state.rooms.values()) other.log.hidden = other !== room;
  $("messages").scrollTop = $("messages").scrollHeight;
  $("text").disabled = !room;
  $("send").disabled = !room;
  renderMembers();
}

// Buttons are updated in place, keyed by room, so the one a keyboard user just pressed keeps the focus.
function renderRooms() {
  const list = $("rooms");
  const names = [...state.rooms.keys()];
  if (state.inSession && !state.rooms.has(SUGGESTED_ROOM)) names.push(SUGGESTED_ROOM);
  const existing = new Map([...list.children].map((li) => [li.dataset.room, li]));
  names.forEach((name, index) => {
    let li = existing.get(name);
    if (!li) {
      li = document.createElement("li");
      li.dataset.room = name;
      const button = document.createElement("button");
      button.type = "button";
      button.addEventListener("click", () => (state.rooms.has(name) ? select(name) : join(name)));
      li.append(button);
    }
    existing.delete(name);
    if (list.children[index] !== li) list.insertBefore(li, list.children[index] ?? null);
    const button = li.firstChild;
    const joined = state.rooms.has(name);
    const room = state.rooms.get(name);
    button.className = joined ? "room" : "room suggested";
    button.title = joined ? "#" + name : "Join #" + name;
    if (name === state.current) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
    const parts = ["# " + name];
    const badge = [];
    if (!joined) parts.push(" (join)");
    else if (room.unread > 0) badge.push(room.unread);
    const label = parts.join("");
    if (button.dataset.label !== label + "|" + badge.join()) {
      button.dataset.label = label + "|" + badge.join();
      button.replaceChildren(label);
      if (badge.length) {
        const span = document.createElement("span");
        span.className = "badge";
        span.textContent = String(badge[0]);
        const hidden = document.createElement("span");
        hidden.className = "sr-only";
        hidden.textContent = " new";
        span.append(hidden);
        button.append(span);
      }
    }
  });
  for (const stale of existing.values()) stale.remove();
}

function renderMembers() {
  const room = state.rooms.get(state.current);
  const names = [...(room?.members.values() ?? [])].sort((a, b) => a.localeCompare(b));
  $("members-empty").hidden = Boolean(room);
  $("members").replaceChildren(...names.map((name) => {
    const li = document.createElement("li");
    li.textContent = name;
    return li;
  }));
}

// ---- forms ----

$("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn(false); });
$("register-button").addEventListener("click", () => signIn(true));
$("logout").addEventListener("click", logOut);
$("join-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("room-name");
  const name = input.value.trim();
  if (!name) return;
  if (await join(name)) input.value = "";
});
$("send-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("text");
  const text = input.value;
  const socket = state.socket;
  const room = state.current;
  if (!text.trim() || !room || !socket) return;
  // Cleared now, not when the ack comes: whatever is typed meanwhile is the next message and stays.
  input.value = "";
  $("send-error").textContent = "";
  let answer;
  try {
    answer = await socket.timeout(ACK_TIMEOUT).emitWithAck("chat:message", { room, text });
  } catch {
    answer = { ok: false, code: socket.connected ? "timeout" : "disconnected" };
  }
  if (answer?.ok || state.socket !== socket) return;
  if (input.value === "") input.value = text; // give the text back, unless something new was typed since
  $("send-error").textContent = `Not sent: ${describe(answer?.code)}`;
});

start();
