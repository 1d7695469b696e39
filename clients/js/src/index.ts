// tessera-client: the client side of Tessera's authentication (shared/CONTRACT.md §3, §4) for socket.io-client.
//
// The emitted dist/index.js has no import at all (socket.io-client is used for its types only, and its `io` is
// passed in), so a browser page loads it as a module as it is, without a bundler or an import map.
import type { Socket } from "socket.io-client";

export interface TesseraClientOptions {
  /** socket.io-client's `io` (Node: `import { io } from "socket.io-client"`; browser: the global of /socket.io/socket.io.min.js). */
  io: (url: string, opts?: object) => Socket;
  /** The server's origin, e.g. `http://localhost:3000`. Default: `location.origin` in a browser; required in Node. */
  url?: string;
  /** Where the account endpoints are. Default `/auth`. */
  authPath?: string;
  /**
   * `cookie`: the refresh token lives in the server's HttpOnly `refresh_token` cookie (a browser page of the server's
   * own origin; the refreshToken of the JSON answers is ignored). `token`: this client keeps it in `storage` (Node, apps).
   * Default: `cookie` in a browser, else `token`.
   */
  credentials?: "cookie" | "token";
  /** Token mode: the refresh token to start with (e.g. one kept from an earlier run). */
  refreshToken?: string | null;
  /** Token mode: where the refresh token is kept; it is replaced at every rotation. Default: memory. */
  storage?: { get(): string | null | Promise<string | null>; set(refreshToken: string | null): void | Promise<void> };
  /** Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Passed to `io()` (transports, reconnection …); `auth` is always this client's callback. */
  socketOptions?: object;
  /** Web Locks name of the one-refresh-at-a-time rule (and of the tabs' BroadcastChannel). Default `tessera-refresh`. */
  lockName?: string;
}

/** A refused or failed call to the account endpoints: `message` and `code` from the server's `{message, code}`. */
export class TesseraAuthError extends Error {
  /** The HTTP status; 0 when no answer came (network error) or the client refused by itself. */
  status: number;
  /** The server's `code` (`refresh_reused`, `refresh_invalid`, `refresh_expired`, `origin`, `token_revoked` …), or the client's own (`network`, `refresh_missing`, `sub_mismatch`, `superseded`). */
  code?: string;

  constructor(message: string, status: number, code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TesseraAuthError";
    this.status = status;
    this.code = code;
  }
}

export type TesseraClientEvent = "token" | "revoked" | "expired" | "refresh-failed" | "logged-out";

interface Claims {
  sub?: string;
  name?: string;
  sid?: string;
  jti?: string;
  exp?: number;
}

interface TokenAnswer {
  token: string;
  tokenType: string;
  expiresIn: number;
  refreshToken: string;
}

/** What this client knows of one of its sockets. */
interface SocketState {
  /** The token the server holds for the socket (sent at its handshake or accepted by auth:refresh). */
  token: string | null;
  /** A refresh was made for this socket's last refused handshake: a second refusal ends the session. */
  retried: boolean;
}

interface TabMessage {
  type: "token" | "want" | "ended";
  accessToken?: string;
  expiresAt?: number;
  /** "token": just obtained from POST /auth/refresh (others of the session take it); else an answer to "want". */
  fresh?: boolean;
  /** "want": the asker's expiry and token id; an answer must be another token expiring no earlier. */
  after?: number;
  not?: string;
  sid?: string;
  sub?: string;
  all?: boolean;
  code?: string;
}

interface LockManagerLike {
  request(name: string, options: { mode?: "shared" | "exclusive" }, callback: () => Promise<unknown>): Promise<unknown>;
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>;
  query?(): Promise<{ held?: { name?: string }[] }>;
}

/** How long a tab waits for the token another tab announced (by its marker lock) before refreshing by itself. */
const SHARE_TIMEOUT_MS = 3000;
/** How long a socket's answer to auth:refresh is awaited. */
const ACK_TIMEOUT_MS = 10_000;

function webLocks(): LockManagerLike | null {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  return locks && typeof locks.request === "function" ? locks : null;
}

function inBrowser(): boolean {
  return typeof (globalThis as { document?: unknown }).document !== "undefined";
}

/** The claims of a JWT, unverified (display and scheduling only; the server verifies). */
function decodeClaims(token: string): Claims | null {
  try {
    const part = token.split(".")[1];
    if (!part) {
      return null;
    }
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? (claims as Claims) : null;
  } catch {
    return null;
  }
}

/** One holder at a time per name within this JavaScript realm: the fallback where there are no Web Locks. */
const localLocks = new Map<string, Promise<void>>();

async function withLocalLock<T>(name: string, run: () => Promise<T>): Promise<T> {
  const previous = localLocks.get(name) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  localLocks.set(name, tail);
  await previous;
  try {
    return await run();
  } finally {
    release();
    if (localLocks.get(name) === tail) {
      localLocks.delete(name);
    }
  }
}

function asAuthError(error: unknown): TesseraAuthError {
  if (error instanceof TesseraAuthError) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TesseraAuthError("Network error: " + message, 0, "network", { cause: error });
}

export class TesseraClient {
  readonly #io: (url: string, opts?: object) => Socket;
  readonly #url: string;
  readonly #authPath: string;
  readonly #mode: "cookie" | "token";
  readonly #storage: { get(): string | null | Promise<string | null>; set(refreshToken: string | null): void | Promise<void> };
  readonly #initialStorage: Promise<void>;
  readonly #fetch: typeof fetch;
  readonly #socketOptions: object;
  readonly #lockName: string;
  readonly #channel: BroadcastChannel | null;

  #token: string | null = null;
  #claims: Claims | null = null;
  #expiresAt: number | null = null;
  /** Changes whenever the session does (login, logout, end): results of calls begun before are dropped. */
  #epoch = 0;
  #inflight: Promise<string> | null = null;
  #loggingOut = false;
  readonly #listeners = new Map<TesseraClientEvent, Set<(detail: any) => void>>();
  readonly #sockets = new Set<Socket>();
  readonly #states = new WeakMap<Socket, SocketState>();
  /**
   * Shared Web Locks held while this tab has a token, named `<lockName>:token:<expiresAt>:<jti>`: other tabs see with
   * query() that a token newer than theirs exists (exp has whole seconds, so two tokens may share one: jti tells them apart).
   */
  readonly #markers = new Map<string, () => void>();
  readonly #waiters = new Set<{ accepts: (message: TabMessage) => boolean; done: (message: TabMessage | null) => void }>();

  constructor(options: TesseraClientOptions) {
    if (!options || typeof options.io !== "function") {
      throw new TypeError("TesseraClient: options.io (socket.io-client's io) is required");
    }
    const url = options.url ?? (globalThis as { location?: { origin?: string } }).location?.origin;
    if (!url || url === "null") {
      throw new TypeError("TesseraClient: options.url is required outside a browser page");
    }
    this.#io = options.io;
    this.#url = url.replace(/\/+$/, "");
    this.#authPath = "/" + (options.authPath ?? "/auth").replace(/^\/+|\/+$/g, "");
    this.#mode = options.credentials ?? (inBrowser() ? "cookie" : "token");
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#socketOptions = options.socketOptions ?? {};
    this.#lockName = options.lockName ?? "tessera-refresh";
    if (options.storage) {
      const storage = options.storage;
      this.#storage = storage;
      const initial = options.refreshToken;
      this.#initialStorage = initial != null ? Promise.resolve().then(() => storage.set(initial)) : Promise.resolve();
      this.#initialStorage.catch(() => {});
    } else {
      let kept: string | null = options.refreshToken ?? null;
      this.#storage = { get: () => kept, set: (value) => void (kept = value) };
      this.#initialStorage = Promise.resolve();
    }
    // Tabs of one browser share the refresh cookie, so they share its access tokens too (cookie mode only: in token
    // mode each client may hold a session of its own).
    if (this.#mode === "cookie" && typeof BroadcastChannel === "function") {
      const channel = new BroadcastChannel(this.#lockName);
      channel.onmessage = (event: MessageEvent) => this.#onTabMessage(event.data as TabMessage);
      (channel as { unref?: () => void }).unref?.();
      this.#channel = channel;
    } else {
      this.#channel = null;
    }
  }

  /** The current access token, or null without a session. */
  get accessToken(): string | null {
    return this.#token;
  }

  /** Who the access token names (decoded without verification: for display only). */
  get user(): { sub: string; name: string } | null {
    return this.#claims ? { sub: this.#claims.sub ?? "", name: this.#claims.name ?? "" } : null;
  }

  /** When the access token expires, Unix ms. */
  get expiresAt(): number | null {
    return this.#expiresAt;
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on(event: TesseraClientEvent, listener: (detail: any) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    const entry = (detail: any) => listener(detail);
    set.add(entry);
    return () => void set.delete(entry);
  }

  async register(username: string, password: string): Promise<{ id: string; username: string }> {
    const answer = (await this.#post("/register", { username, password })) as { id: string; username: string };
    return { id: answer.id, username: answer.username };
  }

  async login(username: string, password: string): Promise<void> {
    const answer = (await this.#post("/login", { username, password })) as TokenAnswer;
    this.#epoch++;
    if (this.#mode === "token") {
      await this.#initialStorage;
      await this.#storage.set(answer.refreshToken);
    }
    await this.#accept(answer.token, answer.expiresIn, false);
    this.#emit("token", { accessToken: this.#token, expiresAt: this.#expiresAt });
    await this.#pushToSockets(answer.token);
  }

  /** Refreshes from the cookie or the stored refresh token: true if a session was resumed, false if there is none or it was refused. */
  async resume(): Promise<boolean> {
    try {
      await this.#refresh(this.#token === null);
      return true;
    } catch (error) {
      const e = asAuthError(error);
      if (e.status === 400 || e.status === 401 || e.code === "refresh_missing" || e.code === "sub_mismatch") {
        return false;
      }
      throw e;
    }
  }

  /** A new access token; at most one refresh at a time (across tabs with Web Locks); every connected socket then gets it in-band. */
  refresh(): Promise<string> {
    return this.#refresh(false);
  }

  connect(namespace = "/"): Socket {
    const path = namespace.startsWith("/") ? namespace : "/" + namespace;
    const state: SocketState = { token: null, retried: false };
    const socket = this.#io(this.#url + path, {
      ...this.#socketOptions,
      auth: (cb: (data: object) => void) => {
        state.token = this.#token;
        cb(this.#token ? { token: this.#token } : {});
      },
    });
    this.#states.set(socket, state);
    this.#sockets.add(socket);
    socket.on("connect", () => {
      this.#sockets.add(socket);
      state.retried = false;
      // Connected with a token that has been replaced since it was sent: hand over the current one.
      if (this.#token && state.token !== this.#token) {
        void this.#pushTo(socket, this.#token);
      }
    });
    socket.on("disconnect", (reason: string) => {
      if (reason === "io client disconnect") {
        this.#sockets.delete(socket);
      }
    });
    socket.on("auth:expiring", (payload?: { expiresAt?: number }) => {
      const at = payload?.expiresAt;
      if (this.#token && this.#expiresAt !== null && typeof at === "number" && this.#expiresAt > at) {
        // This client already holds a newer token (another socket's refresh, another tab's): this socket lacks only it.
        void this.#pushTo(socket, this.#token);
        return;
      }
      this.#refresh(false).catch(() => {});
    });
    socket.on("auth:expired", (payload?: { code?: string }) => {
      if (this.#token && state.token !== this.#token && this.#expiresAt !== null && this.#expiresAt > Date.now()) {
        // Only this socket's token ran out (it missed a refresh): it reconnects with the current one.
        socket.once("disconnect", () => {
          if (this.#token) {
            socket.connect();
          }
        });
        return;
      }
      this.#end("expired", { code: payload?.code ?? "token_expired" });
    });
    socket.on("auth:revoked", (payload?: { code?: string }) => {
      if (!this.#loggingOut) {
        this.#end("revoked", { code: payload?.code ?? "token_revoked" });
      }
    });
    socket.on("connect_error", (err: Error & { data?: { code?: string } }) => void this.#onConnectError(socket, state, err));
    return socket;
  }

  /** POST /auth/logout with the access token, then forgets the tokens, disconnects the sockets and emits "logged-out". */
  logout(): Promise<void> {
    return this.#logout(false);
  }

  /** POST /auth/logout-all: every session of the user ends (other devices' sockets get auth:revoked). */
  logoutAll(): Promise<void> {
    return this.#logout(true);
  }

  // ---------------------------------------------------------------------------------------------------------------

  #emit(event: TesseraClientEvent, detail: unknown): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(detail);
      } catch (error) {
        // A listener's failure is its own: reported as uncaught, without breaking the client or the other listeners.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  async #post(path: string, body: unknown, bearer?: string): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (body !== undefined) {
      headers["content-type"] = "application/json";
    }
    if (bearer) {
      headers.authorization = "Bearer " + bearer;
    }
    let response: Response;
    try {
      response = await this.#fetch(this.#url + this.#authPath + path, {
        method: "POST",
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // Cookie mode: the page is of the server's origin, whose refresh cookie is sent and set; token mode: no cookie at all.
        credentials: this.#mode === "cookie" ? "same-origin" : "omit",
      });
    } catch (error) {
      throw asAuthError(error);
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      throw new TesseraAuthError(
        typeof data?.message === "string" ? data.message : `HTTP ${response.status}`,
        response.status,
        typeof data?.code === "string" ? data.code : undefined,
      );
    }
    return data;
  }

  async #withLock<T>(run: () => Promise<T>): Promise<T> {
    const locks = webLocks();
    if (locks) {
      return (await locks.request(this.#lockName, run)) as T;
    }
    return withLocalLock(this.#lockName, run);
  }

  /** Makes a token the client's: claims, expiry, and in cookie mode the tabs' announcement and marker. */
  async #accept(token: string, expiresIn: number | undefined, announce: boolean): Promise<void> {
    const claims = decodeClaims(token) ?? {};
    const expiresAt = typeof claims.exp === "number" ? claims.exp * 1000 : Date.now() + (expiresIn ?? 0) * 1000;
    this.#token = token;
    this.#claims = claims;
    this.#expiresAt = expiresAt;
    if (this.#channel) {
      // Announced before the marker is held: a tab that sees the marker knows the token is on its way to it.
      if (announce) {
        this.#tell({ type: "token", accessToken: token, expiresAt, fresh: true });
      }
      await this.#holdMarker(`${this.#lockName}:token:${expiresAt}:${claims.jti ?? token.slice(-16)}`);
    }
  }

  #tell(message: TabMessage): void {
    try {
      this.#channel?.postMessage(message);
    } catch {
      // A closed channel (page unloading): nothing to tell.
    }
  }

  async #holdMarker(name: string): Promise<void> {
    const locks = webLocks();
    if (locks && !this.#markers.has(name)) {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      await new Promise<void>((granted) => {
        locks
          .request(name, { mode: "shared" }, () => {
            granted();
            return held;
          })
          .catch(() => granted());
      });
      this.#markers.set(name, release);
    }
    // Only the current token's marker stays (a token accepted meanwhile has its own).
    const current = this.#markerName();
    this.#dropMarkers(current);
  }

  #markerName(): string | null {
    return this.#token && this.#expiresAt !== null ? `${this.#lockName}:token:${this.#expiresAt}:${this.#claims?.jti ?? this.#token.slice(-16)}` : null;
  }

  #dropMarkers(keep: string | null): void {
    for (const [name, release] of this.#markers) {
      if (name !== keep) {
        release();
        this.#markers.delete(name);
      }
    }
  }

  #forget(): void {
    this.#token = null;
    this.#claims = null;
    this.#expiresAt = null;
    this.#dropMarkers(null);
  }

  #disconnectAll(): void {
    for (const socket of [...this.#sockets]) {
      socket.disconnect();
    }
    this.#sockets.clear();
  }

  /** The session is over (revoked or expired): forget the access token, disconnect, tell. Once per session. */
  #end(kind: "revoked" | "expired", detail: { code: string }): void {
    if (this.#token === null) {
      return;
    }
    const claims = this.#claims;
    this.#epoch++;
    this.#forget();
    this.#disconnectAll();
    if (kind === "revoked") {
      if (this.#mode === "token") {
        // A revoked session's refresh token is dead too.
        Promise.resolve()
          .then(() => this.#storage.set(null))
          .catch(() => {});
      }
      if (claims?.sid) {
        this.#tell({ type: "ended", sid: claims.sid, code: detail.code });
      }
    }
    this.#emit(kind, detail);
  }

  #refresh(quiet: boolean): Promise<string> {
    if (this.#inflight) {
      return this.#inflight;
    }
    const running: Promise<string> = this.#runRefresh(quiet).finally(() => {
      if (this.#inflight === running) {
        this.#inflight = null;
      }
    });
    this.#inflight = running;
    return running;
  }

  async #runRefresh(quiet: boolean): Promise<string> {
    const epoch = this.#epoch;
    const before = { token: this.#token, expiresAt: this.#expiresAt ?? 0, jti: this.#claims?.jti };
    const hadSession = this.#token !== null;
    const previousSub = this.#claims?.sub;
    let fresh = true;
    let token: string;
    try {
      token = await this.#withLock(async () => {
        // Inside the one-refresh-at-a-time lock. Another token, expiring no earlier than the one held when this refresh
        // was asked for, came meanwhile (another socket's refresh, another tab's): nothing to do.
        if (this.#token !== null && this.#token !== before.token && this.#expiresAt !== null && this.#expiresAt >= before.expiresAt) {
          fresh = false;
          return this.#token;
        }
        const shared = await this.#askOtherTabs(before);
        if (shared?.accessToken && (!hadSession || decodeClaims(shared.accessToken)?.sub === previousSub)) {
          if (this.#epoch !== epoch) {
            throw new TesseraAuthError("The session changed during the refresh.", 0, "superseded");
          }
          await this.#accept(shared.accessToken, undefined, false);
          return shared.accessToken;
        }
        let refreshToken: string | null = null;
        if (this.#mode === "token") {
          await this.#initialStorage;
          // Read inside the lock: the refresh token another holder of the same storage rotated a moment ago.
          refreshToken = await this.#storage.get();
          if (!refreshToken) {
            throw new TesseraAuthError("No refresh token: log in first.", 0, "refresh_missing");
          }
        }
        let answer: TokenAnswer;
        try {
          answer = (await this.#post("/refresh", refreshToken ? { refreshToken } : {})) as TokenAnswer;
        } catch (error) {
          const e = asAuthError(error);
          if (e.status === 400 && !e.code) {
            // Cookie mode without a cookie (never logged in in this browser, or logged out from another tab).
            e.code = "refresh_missing";
          }
          if (this.#mode === "token" && e.status === 401 && this.#epoch === epoch) {
            // refresh_reused / refresh_invalid / refresh_expired: the stored refresh token will never work again.
            await this.#storage.set(null);
          }
          throw e;
        }
        if (this.#epoch !== epoch) {
          throw new TesseraAuthError("The session changed during the refresh.", 0, "superseded");
        }
        if (hadSession && decodeClaims(answer.token)?.sub !== previousSub) {
          // Cookie mode: the browser's cookie now belongs to another user's login (another tab).
          throw new TesseraAuthError("The refresh answered with another user's token.", 0, "sub_mismatch");
        }
        if (this.#mode === "token") {
          // Rotation: the new refresh token is kept before anyone can use the new access token.
          await this.#storage.set(answer.refreshToken);
        }
        await this.#accept(answer.token, answer.expiresIn, true);
        return answer.token;
      });
    } catch (error) {
      const e = asAuthError(error);
      this.#refreshFailed(e, quiet, epoch);
      throw e;
    }
    if (fresh) {
      this.#emit("token", { accessToken: token, expiresAt: this.#expiresAt });
      await this.#pushToSockets(token);
    }
    return token;
  }

  #refreshFailed(e: TesseraAuthError, quiet: boolean, epoch: number): void {
    if (quiet || e.code === "superseded" || this.#epoch !== epoch) {
      return;
    }
    const code = e.code ?? "";
    if (e.status === 401 && (code === "refresh_reused" || code === "refresh_invalid")) {
      this.#end("revoked", { code });
    } else if (e.status === 401 && code === "refresh_expired") {
      this.#end("expired", { code });
    } else if (code === "refresh_missing" || code === "sub_mismatch" || (e.status === 401 && this.#mode === "cookie")) {
      this.#end("revoked", { code: code || "refresh_invalid" });
    } else {
      // Network, 429, 5xx …: the session may be fine; sockets keep their current token until its exp.
      this.#emit("refresh-failed", { error: e });
    }
  }

  /**
   * Cookie mode, inside the lock: another tab holding another token that expires no earlier than `before` (its marker
   * lock says so) sends it, instead of this tab spending the cookie again. Null when there is none, or it did not come in time.
   */
  async #askOtherTabs(before: { expiresAt: number; jti?: string }): Promise<TabMessage | null> {
    const locks = webLocks();
    if (!this.#channel || !locks?.query) {
      return null;
    }
    const prefix = `${this.#lockName}:token:`;
    const usable = (expiresAt: number, jti: string | undefined) =>
      expiresAt >= before.expiresAt && expiresAt > Date.now() + 1000 && jti !== before.jti;
    let found = false;
    try {
      const snapshot = await locks.query();
      for (const lock of snapshot.held ?? []) {
        if (lock.name?.startsWith(prefix)) {
          const [expiresAt, jti] = lock.name.slice(prefix.length).split(":");
          found ||= usable(Number(expiresAt) || 0, jti);
        }
      }
    } catch {
      return null;
    }
    if (!found) {
      return null;
    }
    return new Promise<TabMessage | null>((resolve) => {
      const waiter = {
        accepts: (message: TabMessage) => usable(message.expiresAt ?? 0, decodeClaims(message.accessToken ?? "")?.jti),
        done: (message: TabMessage | null) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(message);
        },
      };
      const timer = setTimeout(() => waiter.done(null), SHARE_TIMEOUT_MS);
      this.#waiters.add(waiter);
      this.#tell({ type: "want", after: before.expiresAt, not: before.jti });
    });
  }

  #onTabMessage(message: TabMessage): void {
    if (!message || typeof message !== "object") {
      return;
    }
    if (message.type === "token" && typeof message.accessToken === "string" && typeof message.expiresAt === "number") {
      let awaited = false;
      for (const waiter of [...this.#waiters]) {
        if (waiter.accepts(message)) {
          awaited = true;
          waiter.done(message);
        }
      }
      const sid = decodeClaims(message.accessToken)?.sid;
      if (
        !awaited &&
        message.fresh === true &&
        this.#token !== null &&
        this.#token !== message.accessToken &&
        this.#expiresAt !== null &&
        sid !== undefined &&
        sid === this.#claims?.sid &&
        message.expiresAt >= this.#expiresAt &&
        message.expiresAt > Date.now()
      ) {
        // Another tab refreshed this session: take its token rather than spend the cookie again later.
        const token = message.accessToken;
        void this.#accept(token, undefined, false).then(() => {
          if (this.#token === token) {
            this.#emit("token", { accessToken: token, expiresAt: this.#expiresAt });
            return this.#pushToSockets(token);
          }
        });
      }
    } else if (message.type === "want" && typeof message.after === "number") {
      if (this.#token && this.#expiresAt !== null && this.#expiresAt >= message.after && this.#claims?.jti !== message.not && this.#expiresAt > Date.now()) {
        this.#tell({ type: "token", accessToken: this.#token, expiresAt: this.#expiresAt });
      }
    } else if (message.type === "ended" && this.#token && !this.#loggingOut) {
      const claims = this.#claims;
      if ((message.sid && message.sid === claims?.sid) || (message.all && message.sub && message.sub === claims?.sub)) {
        this.#end("revoked", { code: message.code ?? "token_revoked" });
      }
    }
  }

  async #pushToSockets(token: string): Promise<void> {
    await Promise.all([...this.#sockets].map((socket) => this.#pushTo(socket, token)));
  }

  /** auth:refresh on one socket, when connected (a disconnected one sends the current token when it reconnects). */
  async #pushTo(socket: Socket, token: string): Promise<void> {
    const state = this.#states.get(socket);
    if (!socket.connected || !state || state.token === token) {
      return;
    }
    let answer: { ok?: boolean; code?: string } | undefined;
    try {
      answer = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck("auth:refresh", token);
    } catch {
      return;
    }
    if (answer?.ok) {
      state.token = token;
      return;
    }
    const code = answer?.code ?? "unknown";
    if (this.#token !== token) {
      return;
    }
    if (code === "token_revoked") {
      this.#end("revoked", { code });
    } else if (code === "sub_mismatch") {
      // The client logged in as someone else: the socket starts over as the new user.
      socket.disconnect();
      socket.connect();
    } else {
      this.#emit("refresh-failed", { error: new TesseraAuthError(`auth:refresh was refused (${code})`, 0, code) });
    }
  }

  async #onConnectError(socket: Socket, state: SocketState, err: Error & { data?: { code?: string } }): Promise<void> {
    const code = err?.data?.code;
    if (code === "token_revoked") {
      this.#end("revoked", { code });
      return;
    }
    if (code !== "token_expired" && code !== "token_invalid" && code !== "token_missing") {
      // A transport error (socket.io-client retries by itself), `forbidden`, an application's own refusal: not ours.
      return;
    }
    if (state.retried) {
      // Refused again right after a successful refresh: no token of this session will do.
      state.retried = false;
      this.#end(code === "token_expired" ? "expired" : "revoked", { code });
      return;
    }
    const sent = state.token;
    try {
      if (!(this.#token && sent !== this.#token && this.#expiresAt !== null && this.#expiresAt > Date.now())) {
        // Quiet without a session (connect() before login or resume()): a cookie session may still exist.
        await this.#refresh(this.#token === null);
      }
    } catch {
      // The refresh has reported what happened ("revoked", "expired" or "refresh-failed"); the socket stays down.
      return;
    }
    if (this.#token && this.#sockets.has(socket) && !socket.connected) {
      state.retried = true;
      socket.connect();
    }
  }

  async #logout(all: boolean): Promise<void> {
    this.#loggingOut = true;
    let failure: TesseraAuthError | null = null;
    const epoch = this.#epoch;
    try {
      let token = this.#token;
      if (!token || (this.#expiresAt ?? 0) <= Date.now() + 1000) {
        // The server needs a live access token to know which session to end.
        token = await this.#refresh(true).catch(() => null);
      }
      if (token) {
        try {
          await this.#post(all ? "/logout-all" : "/logout", undefined, token);
        } catch (error) {
          const e = asAuthError(error);
          // 401: the session was already over.
          if (e.status !== 401) {
            failure = e;
          }
        }
      }
    } finally {
      const claims = this.#claims;
      if (this.#epoch === epoch) {
        this.#epoch++;
      }
      this.#forget();
      this.#disconnectAll();
      if (this.#mode === "token") {
        try {
          await this.#storage.set(null);
        } catch {
          // Nothing more to forget with.
        }
      }
      if (claims?.sid) {
        this.#tell(all ? { type: "ended", all: true, sub: claims.sub, code: "token_revoked" } : { type: "ended", sid: claims.sid, code: "token_revoked" });
      }
      this.#loggingOut = false;
      this.#emit("logged-out", { all });
    }
    if (failure) {
      throw failure;
    }
  }
}
