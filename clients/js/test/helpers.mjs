// Shared by the Node tests: they run against a real Tessera server at TESSERA_URL (tests/Tessera.Server.Tests/
// JsClientTests.cs starts one with short token lifetimes). Every wait is bounded and waits for an event; the only waits
// for time are where time is what is tested (a token that must have expired).
import assert from "node:assert/strict";
import { after } from "node:test";
import { io as officialIo } from "socket.io-client";
import { TesseraClient } from "../dist/index.js";

export const URL = process.env.TESSERA_URL ?? assert.fail("set TESSERA_URL to a running Tessera server");
export const PASSWORD = "correct horse battery";
export const WAIT = 15_000;

/** Every socket the tests open, closed when the file's tests are over (pass or fail), so node exits. */
const opened = new Set();
export const io = (url, opts) => {
  const socket = officialIo(url, opts);
  opened.add(socket);
  return socket;
};
after(() => {
  for (const socket of opened) socket.disconnect();
});

export { TesseraClient };

let counter = 0;
/** A username no other test (or earlier run on the same server) uses. */
export const uniqueName = (prefix) => `${prefix}-${process.pid}-${Date.now() % 1_000_000}-${counter++}`.slice(0, 32);

/**
 * A fetch that records every call to the account endpoints. `instead(path)` may answer a call without sending it to the
 * server; `rewrite(path, response)` may replace the server's answer on its way back.
 */
export function recordingFetch({ instead, rewrite } = {}) {
  const calls = [];
  const wrapped = async (input, init) => {
    const path = new globalThis.URL(String(input)).pathname;
    const call = { path, status: null };
    calls.push(call);
    let response = (await instead?.(path)) ?? (await fetch(input, init));
    if (rewrite) {
      response = (await rewrite(path, response)) ?? response;
    }
    call.status = response.status;
    return response;
  };
  wrapped.calls = calls;
  wrapped.count = (path) => calls.filter((c) => c.path === path).length;
  return wrapped;
}

/** A refresh-token storage the test can read and tamper with, recording every value it is given. */
export function recordingStorage(initial = null) {
  const storage = {
    value: initial,
    history: [],
    get() {
      return storage.value;
    },
    set(value) {
      storage.value = value;
      storage.history.push(value);
    },
  };
  return storage;
}

export function newClient(options = {}) {
  return new TesseraClient({ io, url: URL, socketOptions: { transports: ["websocket"] }, ...options });
}

/** Registers a fresh user and logs the client in; returns the user's name and id. */
export async function signUp(client, prefix = "user") {
  const username = uniqueName(prefix);
  const { id } = await client.register(username, PASSWORD);
  await client.login(username, PASSWORD);
  return { username, id };
}

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The detail of the client's next `event`. */
export const nextClientEvent = (client, event, ms = WAIT) =>
  withTimeout(
    new Promise((resolve) => {
      const off = client.on(event, (detail) => {
        off();
        resolve(detail);
      });
    }),
    ms,
    `client event ${event}`,
  );

/** Every detail of `event` the client emits from now on, in order. */
export function recordClientEvents(client, ...events) {
  const seen = [];
  for (const event of events) {
    client.on(event, (detail) => seen.push({ event, detail }));
  }
  return seen;
}

/** The arguments of the socket's next `event`. */
export const nextSocketEvent = (socket, event, ms = WAIT) =>
  withTimeout(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), ms, `socket event ${event}`);

export async function connected(socket, ms = WAIT) {
  if (!socket.connected) {
    await nextSocketEvent(socket, "connect", ms);
  }
  return socket;
}

export const whoami = (socket) => withTimeout(socket.emitWithAck("whoami"), WAIT, "whoami");

/** Resolves once the wall clock has passed `at` (Unix ms): for waits where the passing of time is the subject. */
export const clockPasses = (at) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

/** Answers with a JSON body, as the server's account endpoints do. */
export const jsonResponse = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });

/** POST to the server directly (what another device or a thief does). */
export async function post(path, body, bearer) {
  const headers = { "content-type": "application/json" };
  if (bearer) headers.authorization = "Bearer " + bearer;
  const response = await fetch(URL + path, { method: "POST", headers, body: body === undefined ? "" : JSON.stringify(body) });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  return { status: response.status, data };
}
