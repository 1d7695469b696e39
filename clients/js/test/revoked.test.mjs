import { test } from "node:test";
import assert from "node:assert/strict";
import { TesseraAuthError } from "../dist/index.js";
import {
  PASSWORD, connected, jsonResponse, newClient, nextClientEvent, nextSocketEvent, post, recordClientEvents, recordingFetch,
  recordingStorage, signUp, whoami,
} from "./helpers.mjs";

test("a logout by another client of the same session: \"revoked\", sockets disconnected, token forgotten", async () => {
  const storage = recordingStorage();
  const client = newClient({ storage });
  await signUp(client, "kicked");
  const a = client.connect();
  const b = client.connect();
  await Promise.all([connected(a), connected(b)]);
  const revoked = nextClientEvent(client, "revoked");
  const disconnected = Promise.all([nextSocketEvent(a, "disconnect"), nextSocketEvent(b, "disconnect")]);
  // Another holder of this session's access token (another device, a script) logs it out.
  assert.equal((await post("/auth/logout", undefined, client.accessToken)).status, 204);
  assert.deepEqual(await revoked, { code: "token_revoked" });
  await disconnected;
  assert.ok(!a.connected && !b.connected);
  assert.equal(client.accessToken, null);
  assert.equal(client.user, null);
  assert.equal(storage.value, null, "the revoked session's refresh token is forgotten too");
  assert.ok(!a.active && !b.active, "and they do not reconnect");
});

test("logoutAll() from another login of the same user revokes this one; the caller gets \"logged-out\", not \"revoked\"", async () => {
  const victim = newClient();
  const { username } = await signUp(victim, "everywhere");
  const socket = victim.connect();
  await connected(socket);
  const other = newClient();
  await other.login(username, PASSWORD);
  const otherSocket = other.connect();
  await connected(otherSocket);
  const otherEvents = recordClientEvents(other, "revoked", "expired", "logged-out");
  const revoked = nextClientEvent(victim, "revoked");
  await other.logoutAll();
  assert.deepEqual(await revoked, { code: "token_revoked" });
  assert.ok(!socket.connected);
  assert.deepEqual(otherEvents, [{ event: "logged-out", detail: { all: true } }]);
  assert.ok(!otherSocket.connected);
  assert.equal(other.accessToken, null);
});

test("logout(): POST /auth/logout with the bearer, then tokens forgotten, sockets disconnected, \"logged-out\"", async () => {
  const fetch = recordingFetch();
  const storage = recordingStorage();
  const client = newClient({ fetch, storage });
  await signUp(client, "leaver");
  const refreshToken = storage.value;
  const socket = client.connect();
  await connected(socket);
  const seen = recordClientEvents(client, "revoked", "expired", "logged-out");
  await client.logout();
  assert.equal(fetch.calls.at(-1).path, "/auth/logout");
  assert.equal(fetch.calls.at(-1).status, 204);
  assert.deepEqual(seen, [{ event: "logged-out", detail: { all: false } }]);
  assert.ok(!socket.connected);
  assert.equal(client.accessToken, null);
  assert.equal(storage.value, null);
  // The server ended the session: its refresh token is refused now.
  assert.equal((await post("/auth/refresh", { refreshToken })).data.code, "refresh_invalid");
});

test("a refresh answered refresh_reused (the refresh token was stolen and used first): \"revoked\" {refresh_reused}", async () => {
  const storage = recordingStorage();
  const client = newClient({ storage });
  await signUp(client, "robbed");
  // A thief uses the current refresh token first: rotation hands the thief the next one.
  assert.equal((await post("/auth/refresh", { refreshToken: storage.value })).status, 200);
  const revoked = nextClientEvent(client, "revoked");
  const error = await client.refresh().catch((e) => e);
  assert.ok(error instanceof TesseraAuthError);
  assert.equal(error.status, 401);
  assert.equal(error.code, "refresh_reused");
  assert.deepEqual(await revoked, { code: "refresh_reused" });
  assert.equal(client.accessToken, null);
  assert.equal(storage.value, null);
});

test("refresh_reused while connected: the session ends (server and client) and the socket is disconnected", async () => {
  const storage = recordingStorage();
  const client = newClient({ storage });
  await signUp(client, "robbed2");
  const socket = client.connect();
  await connected(socket);
  assert.equal((await post("/auth/refresh", { refreshToken: storage.value })).status, 200);
  const revoked = nextClientEvent(client, "revoked");
  const disconnected = nextSocketEvent(socket, "disconnect");
  await client.refresh().catch(() => {});
  // Which arrives first, the 401 refresh_reused or the server's auth:revoked for the now revoked session, is a race.
  assert.ok(["refresh_reused", "token_revoked"].includes((await revoked).code));
  await disconnected;
  assert.equal(client.accessToken, null);
});

test("a refresh answered refresh_invalid: \"revoked\" {refresh_invalid}", async () => {
  const storage = recordingStorage();
  const client = newClient({ storage });
  await signUp(client, "garbled");
  storage.value = "a-refresh-token-this-server-never-issued";
  const revoked = nextClientEvent(client, "revoked");
  const error = await client.refresh().catch((e) => e);
  assert.equal(error.code, "refresh_invalid");
  assert.deepEqual(await revoked, { code: "refresh_invalid" });
  assert.equal(client.accessToken, null);
});

test("refused at connect as token_revoked: \"revoked\" {token_revoked}, without a refresh", async () => {
  const fetch = recordingFetch();
  const client = newClient({ fetch });
  await signUp(client, "gone");
  assert.equal((await post("/auth/logout", undefined, client.accessToken)).status, 204);
  const revoked = nextClientEvent(client, "revoked");
  const socket = client.connect();
  assert.deepEqual(await revoked, { code: "token_revoked" });
  assert.equal(fetch.count("/auth/refresh"), 0);
  assert.ok(!socket.connected && !socket.active);
});

// A token the server cannot verify (here: the login's answer with its signature spoiled on the way).
const spoil = (token) => token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
const spoiling = (paths) => async (path, response) => {
  if (!paths.includes(path) || response.status !== 200) return response;
  const body = await response.json();
  return jsonResponse(200, { ...body, token: spoil(body.token) });
};

test("refused at connect as token_invalid: one refresh, then connected with the new token", async () => {
  const fetch = recordingFetch({ rewrite: spoiling(["/auth/login"]) });
  const client = newClient({ fetch });
  const { id } = await signUp(client, "spoiled");
  const socket = client.connect();
  const refusals = [];
  socket.on("connect_error", (err) => refusals.push(err.data?.code));
  await connected(socket);
  assert.deepEqual(refusals, ["token_invalid"]);
  assert.equal(fetch.count("/auth/refresh"), 1);
  assert.equal((await whoami(socket)).sub, id);
  socket.disconnect();
});

test("still token_invalid after that one refresh: \"revoked\" {token_invalid}, no second refresh", async () => {
  const fetch = recordingFetch({ rewrite: spoiling(["/auth/login", "/auth/refresh"]) });
  const client = newClient({ fetch });
  await signUp(client, "spoiled2");
  const revoked = nextClientEvent(client, "revoked");
  const socket = client.connect();
  const refusals = [];
  socket.on("connect_error", (err) => refusals.push(err.data?.code));
  assert.deepEqual(await revoked, { code: "token_invalid" });
  assert.deepEqual(refusals, ["token_invalid", "token_invalid"]);
  assert.equal(fetch.count("/auth/refresh"), 1);
  assert.ok(!socket.connected && !socket.active);
  assert.equal(client.accessToken, null);
});

test("connect() without a session: refused token_missing; nothing to refresh with, so no request, no event, the socket stays down", async () => {
  const fetch = recordingFetch();
  const client = newClient({ fetch });
  const seen = recordClientEvents(client, "token", "revoked", "expired", "refresh-failed");
  const socket = client.connect();
  const [err] = await nextSocketEvent(socket, "connect_error");
  assert.equal(err.data.code, "token_missing");
  // The client's own (quiet) attempt and this one find no refresh token.
  const error = await client.refresh().catch((e) => e);
  assert.equal(error.code, "refresh_missing");
  assert.equal(fetch.calls.length, 0);
  assert.ok(!socket.connected && !socket.active);
  assert.deepEqual(seen, []);
});
