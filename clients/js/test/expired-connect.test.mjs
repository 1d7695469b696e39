import { test } from "node:test";
import assert from "node:assert/strict";
import { clockPasses, connected, newClient, recordClientEvents, recordingFetch, signUp, whoami } from "./helpers.mjs";

test("connect with an expired access token and a valid refresh token: one refresh, then connected", async () => {
  const fetch = recordingFetch();
  const client = newClient({ fetch });
  const { id } = await signUp(client, "latecomer");
  const stale = client.accessToken;
  // The client sat idle, without sockets, past its token's exp (the server's clock skew is 0).
  await clockPasses(client.expiresAt + 200);
  const seen = recordClientEvents(client, "token", "revoked", "expired", "refresh-failed");
  const socket = client.connect();
  const refusals = [];
  socket.on("connect_error", (err) => refusals.push(err.data?.code));
  await connected(socket);
  assert.deepEqual(refusals, ["token_expired"], "refused once with the stale token");
  assert.equal(fetch.count("/auth/refresh"), 1);
  assert.notEqual(client.accessToken, stale);
  assert.deepEqual(seen.map((s) => s.event), ["token"]);
  assert.equal((await whoami(socket)).sub, id);
  socket.disconnect();
});
