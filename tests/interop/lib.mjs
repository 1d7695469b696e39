// Helpers shared by the interop scripts: bounded waits and an ordered inbox of received items.

export class ScenarioError extends Error {}

export const fail = (message) => {
  throw new ScenarioError(message);
};

// Runs a scenario to exactly one verdict: finish(true) when run() resolves, finish(false, why) when it fails,
// when the global deadline passes (why from describeTimeout), or when anything is thrown outside the awaited chain.
export async function runToVerdict(run, finish, timeoutMs, describeTimeout = () => "") {
  const why = (err) => (err instanceof ScenarioError ? err.message : `unexpected error: ${err?.stack ?? err}`);
  process.on("uncaughtException", (err) => finish(false, why(err)));
  process.on("unhandledRejection", (err) => finish(false, why(err)));
  const deadline = setTimeout(() => finish(false, `scenario timed out after ${timeoutMs} ms${describeTimeout()}`), timeoutMs);
  try {
    await run();
    clearTimeout(deadline);
    finish(true);
  } catch (err) {
    clearTimeout(deadline);
    finish(false, why(err));
  }
}

// Every wait is bounded. `what` may be a function, evaluated only if the wait times out. `unref` is for guards
// on the losing side of a race (connect vs connect_error), which never settle and must not keep node alive;
// only use it where a socket or a global deadline keeps the process running meanwhile.
export function withTimeout(promise, ms, what, { unref = false } = {}) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const description = typeof what === "function" ? what() : what;
      reject(new ScenarioError(`timed out after ${ms} ms waiting for ${description}`));
    }, ms);
    if (unref) timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves with the arguments of the next `event` on `emitter`.
export const once = (emitter, event, ms, what = event) =>
  withTimeout(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), ms, what, { unref: true });

// Items in arrival order, awaited one by one; end(reason) when their source closes.
export class Inbox {
  constructor(timeoutMs) {
    this.timeoutMs = timeoutMs;
    this.items = [];
    this.waiter = null;
    this.ended = null;
  }

  push(item) {
    this.items.push(item);
    this.wake();
  }

  end(reason) {
    this.ended = reason;
    this.wake();
  }

  wake() {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  async next(what, timeoutMs = this.timeoutMs) {
    const arrived = new Promise((resolve) => {
      const check = () => {
        if (this.items.length > 0 || this.ended) resolve();
        else this.waiter = check;
      };
      check();
    });
    await withTimeout(arrived, timeoutMs, what);
    if (this.items.length > 0) return this.items.shift();
    return fail(`${this.ended} while waiting for ${typeof what === "function" ? what() : what}`);
  }
}

// The server's account endpoints (CONTRACT §4), for scripts that need users with tokens.
export function accounts(baseUrl, password = "correct horse battery") {
  async function post(path, body, bearer) {
    const response = await fetch(baseUrl + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...(bearer ? { authorization: "Bearer " + bearer } : {}) },
      body: body === null ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }
  async function login(username) {
    const r = await post("/auth/login", { username, password });
    if (r.status !== 200) fail(`login ${username}: ${r.status}`);
    return { name: username, token: r.body.token, refreshToken: r.body.refreshToken };
  }
  async function register(username) {
    const registered = await post("/auth/register", { username, password });
    if (registered.status !== 201) fail(`register ${username}: ${registered.status}`);
    return login(username);
  }
  // A new user named prefix-<random>.
  const signUp = (prefix) => register(prefix + "-" + Math.random().toString(36).slice(2, 8));
  return { post, login, register, signUp };
}

// A script's end: one JSON summary line on stdout (the reason on stderr too when it failed), sockets closed, exit 0 or 1.
export function finisher(summary, sockets) {
  return (ok, why) => {
    summary.ok = ok;
    if (!ok) {
      summary.error = why;
      console.error(why);
    }
    for (const socket of sockets) socket.close();
    console.log(JSON.stringify(summary));
    process.exit(ok ? 0 : 1);
  };
}
