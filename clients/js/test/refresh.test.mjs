import { test } from "node:test";
import assert from "node:assert/strict";
import { clockPasses, connected, newClient, nextClientEvent, recordingFetch, recordingStorage, signUp, whoami } from "./helpers.mjs";

// The server's access tokens live 4 s and auth:expiring comes 2 s before exp: a refresh every ~2 s.
test("auth:expiring is answered by a refresh and auth:refresh: the same socket lives across two refreshes", async () => {
  const fetch = recordingFetch();
  const storage = recordingStorage();
  const client = newClient({ fetch, storage });
  const { id } = await signUp(client, "refresher");
  const socket = client.connect();
  await connected(socket);
  const socketId = socket.id;
  const firstExpiry = client.expiresAt;
  const sent = [];
  // What the client sends in-band.
  socket.onAnyOutgoing((event, token) => event === "auth:refresh" && sent.push(token));

  for (let round = 1; round <= 2; round++) {
    const [expiring] = await withEvent(socket, "auth:expiring");
    const { accessToken, expiresAt } = await nextClientEvent(client, "token");
    assert.ok(expiresAt > expiring.expiresAt, `round ${round}: a later expiry`);
    assert.equal(client.accessToken, accessToken);
    assert.equal(sent.at(-1), accessToken, `round ${round}: the new token went to the socket in-band`);
    assert.equal(socket.id, socketId, `round ${round}: same socket`);
    assert.deepEqual((await whoami(socket)).sub, id);
  }
  assert.equal(fetch.count("/auth/refresh"), 2);
  // Rotation: login's refresh token, then one new one per refresh, each stored before refresh() resolved.
  assert.equal(storage.history.length, 3);
  assert.equal(new Set(storage.history).size, 3);
  assert.equal(storage.value, storage.history[2]);

  // The server moved the socket's deadline: it is still connected after its first token's exp.
  await clockPasses(firstExpiry + 300);
  assert.ok(socket.connected);
  assert.equal(socket.id, socketId);
  assert.equal((await whoami(socket)).sub, id);
  socket.disconnect();
});

function withEvent(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}
