using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Tessera.SocketIO.Tests;

/// <summary>
/// A real Kestrel on 127.0.0.1 serving the Socket.IO test app that tests/interop/socketio.mjs expects
/// (see tests/interop/README.md): echo, join, leave, to-room, broadcast, ask, whoami on "/", "/custom" and
/// the token-guarded "/protected".
/// </summary>
public sealed class SioTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SioTestServer(WebApplication app, SocketIOServer io, string baseUrl, LogCapture logs)
    {
        _app = app;
        Io = io;
        BaseUrl = baseUrl;
        Logs = logs;
    }

    public SocketIOServer Io { get; }
    public string BaseUrl { get; }
    public int Port => new Uri(BaseUrl).Port;
    public LogCapture Logs { get; }

    public static async Task<SioTestServer> StartAsync(int port = 0, Action<SocketIOOptions>? configure = null, Action<SocketIOServer>? setup = null)
    {
        var logs = new LogCapture();
        SocketIOServer? io = null;
        var (app, baseUrl) = await LoopbackApp.StartAsync(
            builder => builder.Services.AddSocketIO(o =>
            {
                o.ConnectTimeout = TimeSpan.FromSeconds(5);
                configure?.Invoke(o);
            }),
            app =>
            {
                io = app.Services.GetRequiredService<SocketIOServer>();
                foreach (var name in new[] { "/", "/custom", "/protected" })
                {
                    var ns = io.Of(name);
                    ns.OnConnection(socket => AddHandlers(ns, socket));
                }
                io.Of("/protected").Use((socket, next) =>
                {
                    if (socket.Handshake.Auth.TryGetProperty("token", out var token) && token.ValueKind == JsonValueKind.String && token.GetString() == "good")
                    {
                        return next();
                    }
                    if (token.ValueKind == JsonValueKind.String && token.GetString() == "refused-quietly")
                    {
                        // The same refusal without an exception (SocketIOSocket.Refuse).
                        socket.Refuse(new SocketIOConnectException("not authorized", new { code = "nope", retryable = false }));
                        return ValueTask.CompletedTask;
                    }
                    throw new SocketIOConnectException("not authorized", new { code = "nope", retryable = false });
                });
                setup?.Invoke(io);
                app.MapSocketIO();
            },
            port,
            logs);
        return new SioTestServer(app, io!, baseUrl, logs);
    }

    private static void AddHandlers(SocketIONamespace ns, SocketIOSocket socket)
    {
        socket.On("echo", e =>
        {
            if (e.HasAck)
            {
                e.Ack(e.Args);
            }
            else
            {
                e.Socket.Emit("echo", e.Args);
            }
        });
        socket.On<string>("join", (room, e) =>
        {
            e.Socket.Join(room!);
            e.Ack(true);
        });
        socket.On<string>("leave", (room, e) =>
        {
            e.Socket.Leave(room!);
            e.Ack(true);
        });
        socket.On("to-room", e =>
        {
            var request = e.Args.GetValue(0);
            var target = ns.To(request.GetProperty("room").Element.GetString()!);
            if (request.TryGetProperty("except", out var except))
            {
                target = target.Except(except.Element.GetString()!);
            }
            target.Emit(request.GetProperty("event").Element.GetString()!, request.TryGetProperty("data", out var data) ? data : null);
            e.Ack(true);
        });
        socket.On("broadcast", e =>
        {
            var request = e.Args.GetValue(0);
            e.Socket.Broadcast.Emit(request.GetProperty("event").Element.GetString()!, request.TryGetProperty("data", out var data) ? data : null);
            e.Ack(true);
        });
        socket.On("ask", async e =>
        {
            var request = e.Args.GetValue(0);
            var timeout = TimeSpan.FromMilliseconds(request.GetProperty("timeoutMs").Element.GetInt32());
            try
            {
                var answer = await e.Socket.EmitWithAckAsync("question", timeout, request.GetProperty("question"));
                e.Ack(new { ok = true, answer = answer.Count > 0 ? answer.GetValue(0) : (object?)null });
            }
            catch (TimeoutException)
            {
                e.Ack(new { ok = false, error = "timeout" });
            }
        });
        socket.On("whoami", e => e.Ack(new { id = e.Socket.Id, nsp = e.Socket.Namespace.Name, auth = e.Socket.Handshake.Auth }));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>A raw WebSocket speaking Engine.IO/Socket.IO packets by hand; answers pings itself.</summary>
    public Task<RawClient> ConnectRawAsync() => RawClient.ConnectAsync(BaseUrl);
}

