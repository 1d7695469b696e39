import { test } from "node:test";
import assert from "node:assert/strict";
import { clockPasses, connected, newClient, nextClientEvent, nextSocketEvent, recordingFetch, signUp, whoami } from "./helpers.mjs";

test("two sockets whose token expires at the same moment cause exactly one POST /auth/refresh", async () => {
  const fetch = recordingFetch();
  const client = newClient({ fetch });
  const { id } = await signUp(client, "twosockets");
  // Two connections (two Managers: a second io() of the same namespace gets its own) with the same token, so the
  // server warns both at the same moment.
  const a = client.connect();
  const b = client.connect("/");
  await Promise.all([connected(a), connected(b)]);
  assert.notEqual(a.io, b.io, "two separate connections");
  const oldExpiry = client.expiresAt;
  const sent = { a: [], b: [] };
  a.onAnyOutgoing((event, token) => event === "auth:refresh" && sent.a.push(token));
  b.onAnyOutgoing((event, token) => event === "auth:refresh" && sent.b.push(token));

  const token = nextClientEvent(client, "token");
  const [[warnA], [warnB]] = await Promise.all([nextSocketEvent(a, "auth:expiring"), nextSocketEvent(b, "auth:expiring")]);
  assert.equal(warnA.expiresAt, oldExpiry);
  assert.equal(warnB.expiresAt, oldExpiry);
  const { accessToken } = await token;
  // Both warnings have been handled (each handler runs when its event is dispatched, before our listener); a second
  // refresh would have called fetch at once, long before these round trips come back.
  assert.equal((await whoami(a)).sub, id);
  assert.equal((await whoami(b)).sub, id);
  assert.equal(fetch.count("/auth/refresh"), 1);
  assert.deepEqual(sent.a, [accessToken]);
  assert.deepEqual(sent.b, [accessToken]);

  // Both sockets took the new token: they outlive the old one's exp.
  await clockPasses(oldExpiry + 300);
  assert.ok(a.connected && b.connected);
  assert.equal((await whoami(a)).sub, id);
  assert.equal((await whoami(b)).sub, id);
  a.disconnect();
  b.disconnect();
});
