import { test } from "node:test";
import assert from "node:assert/strict";
import { connected, jsonResponse, newClient, nextClientEvent, nextSocketEvent, recordClientEvents, recordingFetch, recordingStorage, signUp, whoami } from "./helpers.mjs";

test("a refresh that fails (503) is \"refresh-failed\" and the socket keeps its token; at exp auth:expired ends the session as \"expired\"", async () => {
  let outage = true;
  // The account store is down while the warning comes: the refresh gets the server's 503 answer (simulated, the request
  // never leaves; the server's own 503 is tested by StoreFaultTests).
  const fetch = recordingFetch({
    instead: (path) => (outage && path === "/auth/refresh" ? jsonResponse(503, { message: "The account store is unavailable; retry later." }) : null),
  });
  const storage = recordingStorage();
  const client = newClient({ fetch, storage });
  const { id } = await signUp(client, "outage");
  const socket = client.connect();
  await connected(socket);
  const seen = recordClientEvents(client, "token", "revoked", "expired", "refresh-failed");

  const { error } = await nextClientEvent(client, "refresh-failed");
  assert.equal(error.status, 503);
  assert.equal(error.message, "The account store is unavailable; retry later.");
  assert.ok(socket.connected, "still connected with the old token");
  assert.equal((await whoami(socket)).sub, id);

  const disconnected = nextSocketEvent(socket, "disconnect");
  assert.deepEqual(await nextClientEvent(client, "expired"), { code: "token_expired" });
  await disconnected;
  assert.ok(!socket.connected && !socket.active);
  assert.equal(client.accessToken, null);
  assert.deepEqual(seen.map((s) => s.event), ["refresh-failed", "expired"]);

  // Expiry of the access token is not the end of the session: the refresh token is kept, and resume() brings it back.
  assert.notEqual(storage.value, null);
  outage = false;
  assert.equal(await client.resume(), true);
  const again = client.connect();
  await connected(again);
  assert.equal((await whoami(again)).sub, id);
  again.disconnect();
});

test("a refresh answered refresh_expired ends the session as \"expired\" (answer simulated: refresh tokens here live 14 days)", async () => {
  const fetch = recordingFetch({
    instead: (path) => (path === "/auth/refresh" ? jsonResponse(401, { message: "The refresh token has expired.", code: "refresh_expired" }) : null),
  });
  const storage = recordingStorage();
  const client = newClient({ fetch, storage });
  await signUp(client, "oldsession");
  const expired = nextClientEvent(client, "expired");
  const error = await client.refresh().catch((e) => e);
  assert.equal(error.code, "refresh_expired");
  assert.deepEqual(await expired, { code: "refresh_expired" });
  assert.equal(client.accessToken, null);
  assert.equal(storage.value, null);
});
