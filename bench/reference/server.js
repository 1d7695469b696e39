// The reference: Node's socket.io 4.8 with the tutorial's JWT check (io.use + jwt.verify with its three
// messages), and the same echo / broadcast / whoami / GET /stats as samples/BenchServer.
// Usage: JWT_SECRET=... PORT=3001 [REDIS_URL=redis://127.0.0.1:6379] node server.js
// With REDIS_URL, @socket.io/redis-adapter joins the nodes (bench/run.sh's cross-node fan-out).
import { createServer } from "node:http";
import { Server } from "socket.io";
import jwt from "jsonwebtoken";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

const SECRET = process.env.JWT_SECRET;
const PORT = Number(process.env.PORT || 3000);
if (!SECRET) {
  console.error("JWT_SECRET must be set");
  process.exit(2);
}

const http = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ connectedSockets: io.of("/").sockets.size }));
    return;
  }
  res.writeHead(404).end();
});
const io = new Server(http);
if (process.env.REDIS_URL) {
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

io.use((socket, next) => {
  const token = socket.handshake.auth?.token || socket.handshake.query?.token;
  if (!token) return next(new Error("Authentication error: Token missing"));
  jwt.verify(token, SECRET, (err, decoded) => {
    if (err) {
      return next(new Error(err.name === "TokenExpiredError" ? "Authentication error: Token expired" : "Authentication error: Invalid token"));
    }
    socket.user = decoded;
    next();
  });
});

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("broadcast", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    io.emit("broadcast", ...args);
    if (ack) ack({ ok: true });
  });
  socket.on("whoami", (ack) => ack({ sub: socket.user.sub, name: socket.user.name }));
});

http.listen(PORT, "0.0.0.0", () => console.log(`reference listening on ${PORT}`));
const stop = () => io.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
