import { test } from "node:test";
import assert from "node:assert/strict";
import { TesseraAuthError } from "../dist/index.js";
import {
  PASSWORD, connected, newClient, nextClientEvent, recordClientEvents, recordingFetch, recordingStorage, signUp, uniqueName, whoami,
} from "./helpers.mjs";

test("register, login, connect and whoami (token mode by default in Node)", async () => {
  const storage = recordingStorage();
  const client = newClient({ storage });
  assert.equal(client.accessToken, null);
  assert.equal(client.user, null);
  const username = uniqueName("basic");
  const created = await client.register(username, PASSWORD);
  assert.equal(created.username, username);
  assert.match(created.id, /.+/);
  const token = nextClientEvent(client, "token");
  await client.login(username, PASSWORD);
  const detail = await token;
  assert.equal(detail.accessToken, client.accessToken);
  assert.equal(detail.expiresAt, client.expiresAt);
  assert.deepEqual(client.user, { sub: created.id, name: username });
  // exp of a 4 s token, in ms (the server rounds exp up to a whole second).
  assert.ok(client.expiresAt > Date.now() + 3000 && client.expiresAt <= Date.now() + 5000, `expiresAt ${client.expiresAt - Date.now()} ms ahead`);
  // Token mode: the login's refresh token went to the storage.
  assert.equal(storage.history.length, 1);
  assert.match(storage.value, /.{20,}/);

  const socket = client.connect();
  await connected(socket);
  assert.deepEqual(await whoami(socket), { sub: created.id, name: username });
  socket.disconnect();
});

test("refusals of register and login are TesseraAuthErrors with the server's message", async () => {
  const client = newClient();
  const username = uniqueName("refused");
  await client.register(username, PASSWORD);
  const taken = await client.register(username, PASSWORD).catch((e) => e);
  assert.ok(taken instanceof TesseraAuthError);
  assert.equal(taken.status, 409);
  assert.equal(taken.message, "This username is taken.");
  const wrong = await client.login(username, "not the password at all").catch((e) => e);
  assert.ok(wrong instanceof TesseraAuthError);
  assert.equal(wrong.status, 401);
  assert.equal(wrong.message, "Invalid credentials");
  assert.equal(client.accessToken, null);
});

test("concurrent refresh() calls share one POST /auth/refresh", async () => {
  const fetch = recordingFetch();
  const storage = recordingStorage();
  const client = newClient({ fetch, storage });
  await signUp(client, "concurrent");
  const first = client.accessToken;
  const tokens = await Promise.all([client.refresh(), client.refresh(), client.refresh()]);
  assert.equal(fetch.count("/auth/refresh"), 1);
  assert.equal(new Set(tokens).size, 1);
  assert.notEqual(tokens[0], first);
  assert.equal(client.accessToken, tokens[0]);
  // Rotation: the second refresh token replaced the first before refresh() resolved.
  assert.equal(storage.history.length, 2);
  assert.notEqual(storage.history[0], storage.history[1]);
  assert.equal(storage.value, storage.history[1]);
});

test("resume() with nothing stored is false, and emits nothing", async () => {
  const fetch = recordingFetch();
  const client = newClient({ fetch });
  const seen = recordClientEvents(client, "token", "revoked", "expired", "refresh-failed");
  assert.equal(await client.resume(), false);
  assert.equal(fetch.calls.length, 0, "nothing to send: no request");
  assert.equal(client.accessToken, null);
  assert.deepEqual(seen, []);
});

test("resume() with a refused refresh token is false, forgets it, and emits nothing", async () => {
  const storage = recordingStorage("not-a-refresh-token-of-this-server");
  const client = newClient({ storage });
  const seen = recordClientEvents(client, "token", "revoked", "expired", "refresh-failed");
  assert.equal(await client.resume(), false);
  assert.equal(storage.value, null);
  assert.deepEqual(seen, []);
});

test("resume() with the stored refresh token after a restart of the client object connects as the same user", async () => {
  const storage = recordingStorage();
  const before = newClient({ storage });
  const { id, username } = await signUp(before, "restart");
  const kept = storage.value;
  // "Restart": a new object over the same storage; the old one is simply dropped.
  const after = newClient({ storage });
  assert.equal(after.accessToken, null);
  const token = nextClientEvent(after, "token");
  assert.equal(await after.resume(), true);
  await token;
  assert.deepEqual(after.user, { sub: id, name: username });
  assert.notEqual(storage.value, kept, "the refresh token was rotated");
  const socket = after.connect();
  await connected(socket);
  assert.deepEqual(await whoami(socket), { sub: id, name: username });
  socket.disconnect();

  // The same with the refresh token handed over as an option (default memory storage).
  const third = newClient({ refreshToken: storage.value });
  assert.equal(await third.resume(), true);
  assert.equal(third.user.sub, id);
});
